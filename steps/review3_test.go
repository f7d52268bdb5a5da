package steps

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load/loadtest"
	"github.com/runexp/runexp/spec"
)

// TestReview3TelemetryWindowExcludesNextWarmup: with warmup, a mode's
// telemetry window must cover that mode's measured requests only (the
// stated purpose of opening windows through load.Config.OnModeStart). The
// window of mode N is closed only when mode N+1's window opens, and that
// now happens after mode N+1's warm-up (steps/load.go runLoadModes; the
// marker in telemetry.go closes the previous window only when a new one
// opens). So the sequential window also covers the concurrent mode's
// warm-up (4 requests in flight here): sequential_gpu_util_max reads up to
// 100 although one request in flight reads 25. Correct: each mode's window
// closes when its measured requests end.
func TestReview3TelemetryWindowExcludesNextWarmup(t *testing.T) {
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

// TestReview3WaitReadyURLAfterTeardown: wait-ready with url (no server)
// now watches the last launched server so that its death ends the wait.
// But a server that was already torn down (teardown step) stays the "last
// launched" one, its Done is closed, and wait-ready for an unrelated URL
// fails at once with "server exited before it was ready (server: signal:
// terminated)" as soon as the first probe is not yet ready. Correct: a
// server that had already exited (or was stopped) before the wait began is
// not watched; the probe of the url decides.
func TestReview3WaitReadyURLAfterTeardown(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	launch(t, env, "server", port)
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatalf("wait-ready: %v", err)
	}
	td := newTeardown().(*Teardown)
	if err := runWithTimeout(td, env, 20*time.Second); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	// Another server (started by other means) that is ready after 300 ms.
	var probes atomic.Int64
	start := time.Now()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if time.Since(start) < 300*time.Millisecond {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer other.Close()
	w := fastWait()
	w.URL = other.URL + "/health"
	err := runWithTimeout(w, env, 5*time.Second)
	if errors.Is(err, ErrExited) {
		t.Fatalf("wait-ready for %s failed after %d probe(s) because the torn-down server had exited: %v", w.URL, probes.Load(), err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
