package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// baselineOn records a baseline of the fake GPU at used bytes.
func baselineOn(t *testing.T, env *Env, f *fakeGPU, gs GPUSpec, used uint64) {
	t.Helper()
	f.setUsed(used)
	if err := (&Measure{GPUSpec: gs, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, env, "gpu_mem_baseline_mb"); v != round1(mib(used)) {
		t.Fatalf("baseline %v", v)
	}
}

func releaseCheck(gs GPUSpec, within time.Duration, onDirty DirtyPolicy) *ReleaseCheck {
	r := newReleaseCheck().(*ReleaseCheck)
	r.GPUSpec = gs
	r.Within = spec.Duration(within)
	r.Interval = spec.Duration(20 * time.Millisecond)
	r.OnDirty = onDirty
	return r
}

func TestReleaseCheckNeedsBaseline(t *testing.T) {
	_, gs := newFakeGPU(t)
	env := newTestEnv(t)
	err := releaseCheck(gs, time.Second, "abort").Run(context.Background(), env)
	if err == nil || err.Error() != "no fake baseline of these devices: add a measure step with baseline: true (same gpu and device) before the launch" {
		t.Errorf("err %v", err)
	}
}

func TestReleaseCheckMemoryReturns(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, gib)
	f.setUsed(30 * gib)
	time.AfterFunc(150*time.Millisecond, func() { f.setUsed(gib + 100<<20) }) // within the 256 MiB tolerance
	start := time.Now()
	if err := runWithTimeout(releaseCheck(gs, 5*time.Second, "abort"), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("returned after %v", d)
	}
	if v := mustValue(t, env, "gpu_release_s").(float64); v < 0.1 || v > 3 {
		t.Errorf("gpu_release_s %v", v)
	}
	if v := mustValue(t, env, "gpu_mem_after_mb"); v != 1124.0 {
		t.Errorf("gpu_mem_after_mb %v", v)
	}
}

func TestReleaseCheckDirty(t *testing.T) {
	for _, onDirty := range []DirtyPolicy{DirtyAbort, DirtyContinue} {
		t.Run(string(onDirty), func(t *testing.T) {
			f, gs := newFakeGPU(t)
			f.procs = []gpu.ProcessMemory{{PID: os.Getpid(), UUID: f.uuid, Used: 20 * gib}}
			env := newTestEnv(t)
			baselineOn(t, env, f, gs, 0)
			f.setUsed(20 * gib)
			start := time.Now()
			err := runWithTimeout(releaseCheck(gs, 200*time.Millisecond, onDirty), env, 10*time.Second)
			if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
				t.Errorf("gave up after %v, within is 200ms", d)
			}
			if err == nil {
				t.Fatal("dirty GPU passed")
			}
			if got := errors.Is(err, ErrDirtyGPU); got != (onDirty == "abort") {
				t.Errorf("errors.Is(err, ErrDirtyGPU) = %v with on_dirty %s", got, onDirty)
			}
			comm, _ := os.ReadFile("/proc/self/comm")
			for _, want := range []string{
				"GPU memory not released",
				"20480 MiB used vs baseline 0 MiB after 2", // 200ms and a little
				fmt.Sprintf("processes still on the GPU: %d (%s, 20480 MiB)", os.Getpid(), strings.TrimSpace(string(comm))),
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if v := mustValue(t, env, "gpu_mem_after_mb"); v != 20480.0 {
				t.Errorf("gpu_mem_after_mb %v", v)
			}
			if _, ok := env.Value("gpu_release_s"); ok {
				t.Error("gpu_release_s recorded for a dirty GPU")
			}
		})
	}
}

func TestReleaseCheckCancelAndReadError(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, 0)
	f.setUsed(10 * gib)
	// The step's timeout ends before within: the outcome is a dirty GPU
	// (so the runner aborts), reported just before the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := releaseCheck(gs, time.Hour, "abort").Run(ctx, env)
	if !errors.Is(err, ErrDirtyGPU) || time.Since(start) > 2*time.Second {
		t.Errorf("step timeout: %v after %v, want ErrDirtyGPU", err, time.Since(start))
	}
	// An interrupt is not a verdict on the GPU.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err = releaseCheck(gs, time.Hour, "abort").Run(ctx, env)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDirtyGPU) {
		t.Errorf("interrupt: %v", err)
	}
	f.mu.Lock()
	f.memErr = errors.New("nvml gone")
	f.mu.Unlock()
	if err := releaseCheck(gs, time.Second, "abort").Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "nvml gone") {
		t.Errorf("read error: %v", err)
	}
}

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

// BUG (steps/load.go:217-219): when a load mode fails (here: its prompt file is
// missing; also on Ctrl-C or timeout), runLoadModes returns without closing
// the telemetry window it opened, so the mode's telemetry.summary row ends
// at the zero time and its "seconds" is about -9.2e9.
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
			t.Errorf("BUG: telemetry.summary row %v has seconds %v", row.Map()["mode"], s)
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
