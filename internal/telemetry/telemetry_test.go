package telemetry

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/runexp/runexp/internal/gpu"
)

// fake returns util = 10 × call (two devices), failing on call 3.
type fake struct {
	mu    sync.Mutex
	calls int
	delay time.Duration
}

func (f *fake) Name() string                                       { return "fake" }
func (f *fake) Devices(context.Context) ([]gpu.Device, error)      { return nil, nil }
func (f *fake) Memory(context.Context) ([]gpu.DeviceMemory, error) { return nil, nil }
func (f *fake) Processes(context.Context, []int) ([]gpu.ProcessMemory, error) {
	return nil, nil
}
func (f *fake) Close() error { return nil }
func (f *fake) Telemetry(ctx context.Context) ([]gpu.Sample, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if n == 3 {
		return nil, errors.New("nvidia-smi hiccup")
	}
	now := time.Now()
	return []gpu.Sample{
		{Time: now, UUID: "GPU-a", UtilPercent: float64(10 * n), MemUsed: uint64(n) << 30, PowerW: 100, SMClockMHz: 1980},
		{Time: now, UUID: "GPU-b", UtilPercent: 0, MemUsed: 1 << 30, PowerW: -1, SMClockMHz: -1},
	}, nil
}

func TestSampler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := Start(t.Context(), &fake{}, 0)
		time.Sleep(1100 * time.Millisecond) // readings at 0, 200, …, 1000 ms
		series := s.Stop()
		if series.Backend != "fake" || series.Interval != DefaultInterval {
			t.Errorf("series header %+v", series)
		}
		if len(series.Samples) != 10 || series.Errors != 1 || series.LastError != "nvidia-smi hiccup" {
			t.Fatalf("%d samples, %d errors", len(series.Samples), series.Errors)
		}
		if again := s.Stop(); len(again.Samples) != 10 {
			t.Error("second Stop changed the series")
		}
		// Readings at 0, 200, …, 1000 ms are calls 1–6; call 3 (400 ms) failed.
		// Window [400ms, 1000ms): calls 4 and 5 → GPU-a util 40, 50.
		w := SummarizeDevice(series, "GPU-a", start.Add(400*time.Millisecond), start.Add(1000*time.Millisecond))
		if w.Samples != 2 || w.MeanUtil != 45 || w.MaxUtil != 50 || w.MaxMemUsed != 5<<30 || w.MeanPowerW != 100 || w.MeanSMMHz != 1980 {
			t.Errorf("window %+v", w)
		}
		all := Summarize(series, time.Time{}, time.Time{})
		// GPU-a: 10,20,40,50,60 → 180; GPU-b: five zeros.
		if all.Samples != 10 || all.MaxUtil != 60 || all.MeanUtil != 18 || all.MeanPowerW != 100 || all.MaxMemUsed != 6<<30 {
			t.Errorf("all %+v", all)
		}
		b := SummarizeDevice(series, "GPU-b", time.Time{}, time.Time{})
		if b.MeanPowerW != -1 || b.MaxPowerW != -1 || b.MeanUtil != 0 {
			t.Errorf("unknown power must be -1: %+v", b)
		}
		if e := Summarize(series, start.Add(time.Hour), time.Time{}); e.Samples != 0 || e.MeanUtil != -1 || e.MaxUtil != -1 {
			t.Errorf("empty window %+v", e)
		}
	})
}

func TestSlowBackendAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := &fake{delay: 350 * time.Millisecond}
		s := Start(ctx, f, 100*time.Millisecond)
		time.Sleep(1 * time.Second)
		snap := s.Snapshot()
		cancel() // the caller's context ends sampling too
		synctest.Wait()
		series := s.Stop()
		// Readings take 350 ms, so ticks are dropped: about 3, not 10.
		if n := len(snap.Samples) / 2; n < 2 || n > 3 {
			t.Errorf("%d readings in 1 s with a 350 ms backend", n)
		}
		// Call 3 (the failing one) was in flight at cancel: not an error.
		if series.Errors != 0 || len(series.Samples) != len(snap.Samples) {
			t.Errorf("errors %d, samples %d vs %d", series.Errors, len(series.Samples), len(snap.Samples))
		}
		if series.End.Before(series.Start) {
			t.Error("end before start")
		}
	})
}

// hung is a backend whose Telemetry ignores its context until released, as a
// wedged driver call would.
type hung struct {
	fake
	release chan struct{}
}

func (h *hung) Telemetry(ctx context.Context) ([]gpu.Sample, error) {
	<-h.release
	return nil, nil
}

// StopContext returns when its context ends even if a reading never does,
// so a wedged driver cannot hold up the server's teardown.
func TestStopContextDoesNotWaitForAHungReading(t *testing.T) {
	h := &hung{release: make(chan struct{})}
	defer close(h.release)
	s := Start(t.Context(), h, 10*time.Millisecond)
	time.Sleep(30 * time.Millisecond) // a reading is in flight
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	done := make(chan Series, 1)
	go func() { done <- s.StopContext(ctx) }()
	select {
	case series := <-done:
		if series.End.IsZero() {
			t.Error("series without an end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StopContext waited for the hung reading")
	}
}

func TestSampleNowRecordsAReadingBetweenTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := Start(t.Context(), &fake{}, time.Hour)
		time.Sleep(time.Millisecond) // the first reading, at start
		s.SampleNow(t.Context())
		s.SampleNow(t.Context()) // the fake's third reading fails
		s.SampleNow(t.Context())
		series := s.Stop()
		if len(series.Samples) != 6 || series.Errors != 1 { // three good readings of two devices
			t.Fatalf("%d samples, %d errors; want 6 and 1 (start + three SampleNow, one failing)", len(series.Samples), series.Errors)
		}
		s.SampleNow(t.Context()) // after Stop: returns at once
	})
}
