package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load/loadtest"
	"github.com/runexp/runexp/internal/testutil"
)

// While a mode runs, the run's console gets a plain progress line at each
// interval: counts, in flight, rates, elapsed and ETA.
func TestLoadShowsLiveProgressOnTheRunsConsole(t *testing.T) {
	defer func(d time.Duration) { loadProgressInterval = d }(loadProgressInterval)
	loadProgressInterval = 50 * time.Millisecond
	srv := loadtest.NewServer(loadtest.Script{ITL: 20 * time.Millisecond})
	defer srv.Close()
	env := newTestEnv(t)
	var console testutil.Buffer
	env.Log = &console
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 6})
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	out := console.String()
	var progress []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "sequential: ") && strings.Contains(line, "/6 done") {
			progress = append(progress, line)
		}
	}
	if len(progress) == 0 {
		t.Fatalf("no progress line on the console:\n%s", out)
	}
	for _, want := range []string{"ok,", "in flight", "req/s", "tok/s", "elapsed"} {
		if !strings.Contains(progress[0], want) {
			t.Errorf("progress line %q lacks %q", progress[0], want)
		}
	}
}
