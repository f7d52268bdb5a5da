package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// --goodput takes vLLM's form (several KEY:MS after one flag) and adds
// request_goodput and slo_attainment to the JSON and the table.
func TestLoadGoodputTakesVLLMFlagFormAndReportsGoodput(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 2 * time.Millisecond})
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := runLoad([]string{"--url", srv.URL, "--model", "m", "--mode", "concurrent", "--requests", "6", "--concurrency", "2",
		"--goodput", "ttft:2000", "e2el:60000", "--json"}, &out, &errOut)
	if code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var sums []load.Summary
	if err := json.Unmarshal(out.Bytes(), &sums); err != nil || len(sums) != 1 {
		t.Fatalf("%v: %s", err, out.String())
	}
	if g := sums[0].RequestGoodput; g == nil || *g != sums[0].RequestThroughput || *sums[0].SLOAttainment != 1 {
		t.Errorf("every request meets 2 s TTFT: goodput %v, throughput %v", g, sums[0].RequestThroughput)
	}
	out.Reset()
	if code := runLoad([]string{"--url", srv.URL, "--model", "m", "--requests", "2", "--goodput", "ttft:0.001"}, &out, &errOut); code != exitcode.OK ||
		!strings.Contains(out.String(), "request_goodput") || !strings.Contains(out.String(), "slo_attainment") {
		t.Errorf("table: exit %d\n%s", code, out.String())
	}
	if code := runLoad([]string{"--url", srv.URL, "--model", "m", "--goodput", "ttfb:5"}, &out, &errOut); code != exitcode.Usage {
		t.Errorf("bad --goodput: exit %d", code)
	}
}
