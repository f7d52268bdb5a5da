package steps

import (
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// A mode with repeat: N records a load.summary row per repetition and one
// for the mode, and the mode's values with their mean, 95 % CI and n.
func TestLoadRepeatRecordsARowPerRepetitionAndTheModesMeanAndCI(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: time.Millisecond})
	defer srv.Close()
	env := newTestEnv(t)
	l := newLoadStep(srv.URL, LoadMode{Name: "c", Kind: load.KindConcurrent, Concurrency: 2, Requests: 4, Repeat: 2})
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(env.Tables()["load.summary"]); n != 3 {
		t.Errorf("%d load.summary rows, want 2 repetitions + the mode", n)
	}
	if n := mustValue(t, env, "c_n"); n != 2 {
		t.Errorf("c_n %v", n)
	}
	lo := mustValue(t, env, "c_output_throughput_ci95_low").(float64)
	mean := mustValue(t, env, "c_output_throughput_mean").(float64)
	hi := mustValue(t, env, "c_output_throughput_ci95_high").(float64)
	if !(lo <= mean && mean <= hi) || mustValue(t, env, "c_completed") != 8 {
		t.Errorf("CI %v <= %v <= %v", lo, mean, hi)
	}
	outs := l.Outputs("")
	var names = map[string]bool{}
	for _, v := range outs.Values {
		names[v] = true
	}
	if !names["c_output_throughput_mean"] || !names["c_n"] {
		t.Errorf("outputs do not declare the repeat values: %v", outs.Values)
	}
}
