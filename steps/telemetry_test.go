package steps

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/load/loadtest"
	"github.com/runexp/runexp/spec"
)

// inFlight wraps a handler and counts the requests it is serving.
type inFlight struct {
	h http.Handler
	n atomic.Int64
}

func (c *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	defer c.n.Add(-1)
	c.h.ServeHTTP(w, r)
}

// The fake GPU's utilisation is 25% per request in flight, so the
// sequential mode reads at most 25 and the concurrent one more.
func TestTelemetryPerMode(t *testing.T) {
	counter := &inFlight{h: loadtest.NewHandler(loadtest.Script{TTFT: 20 * time.Millisecond, ITL: 5 * time.Millisecond})}
	ts := httptest.NewServer(counter)
	defer ts.Close()
	f, gs := newFakeGPU(t)
	f.used = 5 * gib
	f.util = func() float64 { return 25 * float64(counter.n.Load()) }
	env := newTestEnv(t)
	tm := newTelemetry().(*Telemetry)
	tm.GPUSpec = gs
	tm.Interval = spec.Duration(5 * time.Millisecond)
	if err := tm.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := tm.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	l := newLoadStep(ts.URL,
		LoadMode{Kind: "sequential", Requests: 4},
		LoadMode{Kind: "concurrent", Requests: 16, Concurrency: 4})
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.Value("sequential_gpu_util_mean"); ok {
		t.Error("telemetry summarised before the point ended")
	}
	if errs := env.RunCleanups(context.Background()); len(errs) > 0 {
		t.Fatal(errs)
	}
	seqMax := mustValue(t, env, "sequential_gpu_util_max").(float64)
	seqMean := mustValue(t, env, "sequential_gpu_util_mean").(float64)
	concMax := mustValue(t, env, "concurrent_gpu_util_max").(float64)
	if seqMax > 25 || seqMean <= 0 || seqMean > 25 {
		t.Errorf("sequential util mean %v max %v; one request in flight reads 25", seqMean, seqMax)
	}
	if concMax <= seqMax {
		t.Errorf("concurrent util max %v not above sequential %v", concMax, seqMax)
	}
	for _, k := range []string{"sequential_power_mean_w", "concurrent_power_mean_w"} {
		if p := mustValue(t, env, k).(float64); p < 100 {
			t.Errorf("%s %v", k, p)
		}
	}
	if v := mustValue(t, env, "sequential_gpu_mem_max_mb"); v != 5120.0 {
		t.Errorf("sequential_gpu_mem_max_mb %v", v)
	}
	n := mustValue(t, env, "telemetry_samples").(int)
	if n < 3 {
		t.Errorf("telemetry_samples %d", n)
	}
	if v := mustValue(t, env, "telemetry_interval_ms"); v != int64(5) {
		t.Errorf("telemetry_interval_ms %v", v)
	}
	for _, k := range []string{"gpu_util_mean", "gpu_util_max", "power_mean_w", "power_max_w", "gpu_mem_max_mb"} {
		mustValue(t, env, k)
	}
	rows := env.Tables()["telemetry.summary"]
	if len(rows) != 2 {
		t.Fatalf("telemetry.summary has %d rows", len(rows))
	}
	for i, mode := range []string{"sequential", "concurrent"} {
		if m, _ := rows[i].Get("mode"); m != mode {
			t.Errorf("row %d mode %v", i, m)
		}
		if s, _ := rows[i].Get("seconds"); s.(float64) <= 0 {
			t.Errorf("row %d seconds %v", i, s)
		}
		if s, _ := rows[i].Get("samples"); s.(int) < 1 {
			t.Errorf("row %d samples %v", i, s)
		}
	}
	b, err := os.ReadFile(filepath.Join(env.PointDir, "telemetry.json"))
	if err != nil {
		t.Fatal(err)
	}
	var series struct {
		Backend string       `json:"backend"`
		Samples []gpu.Sample `json:"samples"`
	}
	if err := json.Unmarshal(b, &series); err != nil {
		t.Fatal(err)
	}
	if series.Backend != "fake" || len(series.Samples) != n {
		t.Errorf("telemetry.json: backend %q, %d samples, telemetry_samples %d", series.Backend, len(series.Samples), n)
	}
}

// With warmup, a mode's telemetry window covers that mode's measured
// requests only (the purpose of opening windows through
// load.Config.OnModeStart): it closes when they end, not when the next mode's
// window opens after that mode's warm-up. The fake GPU reads 25 per request
// in flight, so the sequential window reads at most 25 although the
// concurrent mode's warm-up has 4 requests in flight.
func TestTelemetryModeWindowExcludesTheNextModesWarmup(t *testing.T) {
	counter := &inFlight{h: loadtest.NewHandler(loadtest.Script{TTFT: 30 * time.Millisecond, ITL: 10 * time.Millisecond})}
	ts := httptest.NewServer(counter)
	defer ts.Close()
	f, gs := newFakeGPU(t)
	f.util = func() float64 { return 25 * float64(counter.n.Load()) }
	env := newTestEnv(t)
	tm := newTelemetry().(*Telemetry)
	tm.GPUSpec = gs
	tm.Interval = spec.Duration(5 * time.Millisecond)
	if err := tm.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	l := newLoadStep(ts.URL,
		LoadMode{Kind: "sequential", Requests: 2},
		LoadMode{Kind: "concurrent", Requests: 4, Concurrency: 4})
	l.Warmup = 4
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if errs := env.RunCleanups(context.Background()); len(errs) > 0 {
		t.Fatal(errs)
	}
	if seqMax := mustValue(t, env, "sequential_gpu_util_max").(float64); seqMax > 25 {
		t.Errorf("sequential_gpu_util_max %v: the sequential window includes the concurrent mode's warm-up (one request in flight reads 25)", seqMax)
	}
}

// When a load mode fails (here: its prompt file is missing; also on Ctrl-C
// or timeout), the telemetry window it opened is closed, so the mode's
// telemetry.summary row ends when the mode did and its "seconds" is not
// negative.
func TestTelemetryWindowClosedWhenLoadFails(t *testing.T) {
	ts := httptest.NewServer(loadtest.NewHandler(loadtest.Script{}))
	defer ts.Close()
	_, gs := newFakeGPU(t)
	env := newTestEnv(t)
	tm := newTelemetry().(*Telemetry)
	tm.GPUSpec = gs
	tm.Interval = spec.Duration(5 * time.Millisecond)
	if err := tm.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	l := newLoadStep(ts.URL, LoadMode{Kind: "sequential", Requests: 2})
	l.PromptFile = filepath.Join(t.TempDir(), "missing.txt")
	if err := runWithTimeout(l, env, 10*time.Second); err == nil {
		t.Fatal("load with a missing prompt file succeeded")
	}
	if errs := env.RunCleanups(context.Background()); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, row := range env.Tables()["telemetry.summary"] {
		if s, _ := row.Get("seconds"); s.(float64) < 0 {
			t.Errorf("telemetry.summary row %v has seconds %v", row.Map()["mode"], s)
		}
	}
}

func TestTelemetryOpenError(t *testing.T) {
	env := newTestEnv(t)
	tm := newTelemetry().(*Telemetry)
	tm.GPUSpec = GPUSpec{GPU: "fake", Device: "nobody"}
	if err := tm.Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "gpu backend fake") {
		t.Errorf("err %v", err)
	}
	if errs := env.RunCleanups(context.Background()); len(errs) != 0 {
		t.Errorf("a failed telemetry step left cleanups: %v", errs)
	}
}

// The telemetry file write error is reported by the cleanup.
func TestTelemetryFileError(t *testing.T) {
	_, gs := newFakeGPU(t)
	env := newTestEnv(t)
	tm := newTelemetry().(*Telemetry)
	tm.GPUSpec = gs
	tm.File = "no-such-dir/telemetry.json"
	if err := tm.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	errs := env.RunCleanups(context.Background())
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "cleanup telemetry: telemetry: ") {
		t.Errorf("errors %v", errs)
	}
	mustValue(t, env, "telemetry_samples")
}
