// Package telemetry samples a gpu.Backend in the background while a step
// runs (the load step of the batching study) and summarises the series by
// time window, so one run's samples can be split per load mode.
//
// Contract: a window that should be summarised however short it is (a load
// mode of 0.2 s under a 200 ms interval) is bracketed with SampleNow at its
// start and end, so it always holds readings; a Summary value with no
// reading behind it is -1, which callers must show as unmeasured, never as
// a number.
package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/gpu"
)

// DefaultInterval is the sampling period when Start is given 0.
const DefaultInterval = 200 * time.Millisecond

// Series is everything a Sampler recorded.
type Series struct {
	Backend  string        `json:"backend"`
	Interval time.Duration `json:"interval_ns"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	// Samples holds one entry per device per reading, in time order.
	Samples []gpu.Sample `json:"samples"`
	// Errors counts failed readings; LastError is the latest one.
	Errors    int    `json:"errors,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Sampler reads backend.Telemetry every interval until Stop or ctx ends.
type Sampler struct {
	cancel context.CancelFunc
	done   chan struct{}
	// now carries SampleNow's requests to the sampling goroutine, so that
	// the backend is only ever read from one goroutine.
	now chan chan struct{}

	mu     sync.Mutex
	series Series
}

// Start begins sampling at once and then every interval (DefaultInterval if
// ≤ 0). A reading slower than the interval delays the next one (ticks are
// dropped, never queued). Errors are counted, not fatal.
func Start(ctx context.Context, backend gpu.Backend, interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = DefaultInterval
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Sampler{cancel: cancel, done: make(chan struct{}), now: make(chan chan struct{})}
	s.series = Series{Backend: backend.Name(), Interval: interval, Start: time.Now()}
	go s.run(ctx, backend, interval)
	return s
}

func (s *Sampler) run(ctx context.Context, backend gpu.Backend, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	var asked chan struct{} // a SampleNow waiting for this reading
	for {
		samples, err := backend.Telemetry(ctx)
		s.mu.Lock()
		switch {
		case err != nil && ctx.Err() != nil:
			// Stopping: a reading cut short is not an error.
		case err != nil:
			s.series.Errors++
			s.series.LastError = err.Error()
		default:
			s.series.Samples = append(s.series.Samples, samples...)
		}
		s.mu.Unlock()
		if asked != nil {
			close(asked)
			asked = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case asked = <-s.now:
		}
	}
}

// SampleNow takes one reading at once, besides the periodic ones, and
// returns when it is recorded, when the sampler has stopped, or when ctx is
// done. Bracketing a window with it gives the window readings even when it
// is shorter than the interval.
func (s *Sampler) SampleNow(ctx context.Context) {
	recorded := make(chan struct{})
	select {
	case s.now <- recorded:
	case <-s.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-recorded:
	case <-s.done:
	case <-ctx.Done():
	}
}

// Snapshot returns a copy of the samples so far, without stopping.
func (s *Sampler) Snapshot() Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.series
	out.Samples = append([]gpu.Sample(nil), s.series.Samples...)
	if out.End.IsZero() {
		out.End = time.Now()
	}
	return out
}

// Stop ends sampling, waits for a reading in flight, and returns the series.
// It may be called more than once.
func (s *Sampler) Stop() Series { return s.StopContext(context.Background()) }

// StopContext is Stop that waits for a reading in flight only until ctx is
// done: a driver call that hangs must not hold up the teardown that follows.
func (s *Sampler) StopContext(ctx context.Context) Series {
	s.cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	if s.series.End.IsZero() {
		s.series.End = time.Now()
	}
	s.mu.Unlock()
	return s.Snapshot()
}

// Summary condenses the samples of a window. Readings a backend could not
// take (negative) are left out; a mean or max with no readings is -1.
type Summary struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Samples    int       `json:"samples"` // device readings in the window
	MeanUtil   float64   `json:"mean_util_percent"`
	MaxUtil    float64   `json:"max_util_percent"`
	MaxMemUsed uint64    `json:"max_mem_used_bytes"`
	MeanPowerW float64   `json:"mean_power_w"`
	MaxPowerW  float64   `json:"max_power_w"`
	MeanSMMHz  float64   `json:"mean_sm_clock_mhz"`
}

// Summarize summarises the samples with from ≤ Time < to over all devices
// (a zero from or to leaves that side open).
func Summarize(series Series, from, to time.Time) Summary {
	return summarize(series, from, to, "")
}

// SummarizeDevice is Summarize restricted to one device UUID.
func SummarizeDevice(series Series, uuid string, from, to time.Time) Summary {
	return summarize(series, from, to, uuid)
}

type acc struct {
	sum, max float64
	n        int
}

func (a *acc) add(v float64) {
	if v < 0 {
		return
	}
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.sum += v
	a.n++
}

func (a acc) mean() float64 {
	if a.n == 0 {
		return -1
	}
	return a.sum / float64(a.n)
}

func (a acc) maximum() float64 {
	if a.n == 0 {
		return -1
	}
	return a.max
}

func summarize(series Series, from, to time.Time, uuid string) Summary {
	out := Summary{From: from, To: to}
	var util, power, clock acc
	for _, s := range series.Samples {
		if (!from.IsZero() && s.Time.Before(from)) || (!to.IsZero() && !s.Time.Before(to)) {
			continue
		}
		if uuid != "" && s.UUID != uuid {
			continue
		}
		out.Samples++
		util.add(s.UtilPercent)
		power.add(s.PowerW)
		clock.add(s.SMClockMHz)
		out.MaxMemUsed = max(out.MaxMemUsed, s.MemUsed)
	}
	out.MeanUtil, out.MaxUtil = util.mean(), util.maximum()
	out.MeanPowerW, out.MaxPowerW = power.mean(), power.maximum()
	out.MeanSMMHz = clock.mean()
	return out
}
