package load_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// Without streaming there is no TTFT, TPOT or ITL: the table prints n/a
// for them, not a measured-looking 0.000; E2EL stays a number.
func TestTablePrintsNAForStatisticsWithoutSamples(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	sums, _ := run(t, cfgFor(srv.URL, false, load.Mode{Kind: load.KindSequential, Requests: 2}))
	var b bytes.Buffer
	load.WriteTable(&b, sums)
	for _, line := range strings.Split(b.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch {
		case strings.HasSuffix(f[0], "_ttft_ms"), strings.HasSuffix(f[0], "_tpot_ms"), strings.HasSuffix(f[0], "_itl_ms"):
			if f[1] != "n/a" {
				t.Errorf("%s = %s, want n/a", f[0], f[1])
			}
		case strings.HasSuffix(f[0], "_e2el_ms"):
			if f[1] == "n/a" {
				t.Errorf("%s = n/a", f[0])
			}
		}
	}
}
