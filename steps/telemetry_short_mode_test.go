package steps

import (
	"context"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load/loadtest"
	"github.com/runexp/runexp/spec"
)

// A mode far shorter than the sampling interval (the simulated concurrent
// mode lasts 0.17 s under 200 ms) still gets readings: the sampler reads at
// the mode's start and end.
func TestTelemetryModeShorterThanTheIntervalIsSampledAtItsStartAndEnd(t *testing.T) {
	ts := httptest.NewServer(loadtest.NewHandler(loadtest.Script{}))
	defer ts.Close()
	f, gs := newFakeGPU(t)
	f.util = func() float64 { return 40 }
	env := newTestEnv(t)
	tm := newTelemetry().(*Telemetry)
	tm.GPUSpec = gs
	tm.Interval = spec.Duration(time.Hour)
	if err := tm.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	l := newLoadStep(ts.URL, LoadMode{Kind: "sequential", Requests: 2}, LoadMode{Kind: "concurrent", Requests: 4, Concurrency: 4})
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if errs := env.RunCleanups(context.Background()); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, k := range []string{"sequential_gpu_util_mean", "concurrent_gpu_util_mean", "concurrent_power_mean_w", "concurrent_gpu_mem_max_mb"} {
		v, ok := env.Value(k)
		if f, isFloat := v.(float64); !ok || !isFloat || math.IsNaN(f) || f < 0 {
			t.Errorf("%s = %v: a mode shorter than the interval was not sampled", k, v)
		}
	}
	for _, row := range env.Tables()["telemetry.summary"] {
		if n, _ := row.Get("samples"); n.(int) < 2 {
			t.Errorf("mode %v has %v readings, want its start and end at least", row.Map()["mode"], n)
		}
	}
}

// A summary value with no reading behind it (the telemetry package's -1)
// is recorded as no value, so CSVs leave it empty and notes print n/a.
func TestTelemetryUnmeasuredValueIsRecordedAsNoValue(t *testing.T) {
	if v := measured(-1); !math.IsNaN(v) {
		t.Errorf("measured(-1) = %v, want NaN (no value)", v)
	}
	if v := measured(42.04); v != 42 {
		t.Errorf("measured(42.04) = %v", v)
	}
}
