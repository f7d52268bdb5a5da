package load

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// RequestResult is one measured request: one line of requests.jsonl.
// Durations are milliseconds; times are wall-clock (measured on the
// monotonic clock).
type RequestResult struct {
	Mode  string `json:"mode"`
	Index int    `json:"index"` // position in the mode's schedule; prompt = Index mod len(prompts)
	// IntendedStart is when the request should have been sent: the schedule
	// time in rate mode, the moment its worker became free in closed loop.
	IntendedStart time.Time `json:"intended_start"`
	Start         time.Time `json:"start"`   // just before the request was written (zero if dropped)
	TTFTms        float64   `json:"ttft_ms"` // Start → first chunk with non-empty content (streaming only, else 0)
	// ITLms holds every gap between consecutive content chunks (streaming).
	ITLms        []float64 `json:"itl_ms"`
	E2ELms       float64   `json:"e2el_ms"`       // Start → [DONE] (stream) / end of body; for failures, → the failure
	PromptTokens int       `json:"prompt_tokens"` // as the server reported them (usage)
	// IntendedPromptTokens is the prompt's length as the dataset meant it,
	// counted by the server's tokenizer; 0 when unknown.
	IntendedPromptTokens int     `json:"intended_prompt_tokens,omitempty"`
	CompletionTokens     int     `json:"completion_tokens"`
	TokensSource         string  `json:"tokens_source"` // "usage" | "chunks" | "none"
	FinishReason         string  `json:"finish_reason"`
	HTTPStatus           int     `json:"http_status"`
	ErrorClass           string  `json:"error_class"` // "" on success; see Class* constants
	Error                string  `json:"error"`
	LagMs                float64 `json:"lag_ms"` // Start - IntendedStart: generator-side delay
	// Session and Turn (from 1) place a multi_turn request in its
	// conversation.
	Session int `json:"session,omitempty"`
	Turn    int `json:"turn,omitempty"`
}

// OK reports whether the request completed successfully.
func (r RequestResult) OK() bool { return r.ErrorClass == "" }

// Schedule returns the intended send offsets of a rate mode, relative to the
// mode's start: the first request at 0, then gaps of 1/Rate ("constant") or
// exponential gaps with mean 1/Rate drawn from a PCG generator seeded with
// Seed ("poisson"). It stops after Requests offsets and/or before Duration,
// whichever comes first. It is a pure function: the same mode gives the same
// schedule.
func Schedule(m Mode) []time.Duration {
	if !(m.Rate > 0) || (m.Requests <= 0 && m.Duration <= 0) {
		return nil
	}
	n := m.Requests
	if n <= 0 {
		n = int(m.Rate*m.Duration.Seconds()) + 1
	}
	out := make([]time.Duration, 0, n)
	var rng *rand.Rand
	if m.Arrival == ArrivalPoisson {
		rng = rand.New(rand.NewPCG(uint64(m.Seed), uint64(m.Seed)^0x5851f42d4c957f2d))
	}
	gamma := m.Burstiness != 0 && m.Burstiness != 1
	t := 0.0 // seconds
	for i := 0; m.Requests <= 0 || i < m.Requests; i++ {
		if i > 0 {
			switch {
			case rng != nil && gamma:
				t += gammaVariate(rng, m.Burstiness) / (m.Rate * m.Burstiness)
			case rng != nil:
				t += rng.ExpFloat64() / m.Rate
			default:
				t = float64(i) / m.Rate
			}
		}
		// Rounded: i/rate is inexact in binary, and truncation would put a
		// send 1 ns before the Duration boundary that belongs on it.
		off := time.Duration(math.Round(t * 1e9))
		if m.Duration > 0 && off >= m.Duration {
			break
		}
		out = append(out, off)
	}
	return out
}

// gammaVariate draws from Gamma(shape, 1) (Marsaglia and Tsang's method;
// for shape < 1, Gamma(shape+1)·U^(1/shape)).
func gammaVariate(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaVariate(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Run executes every mode of cfg in order against the same server, each
// preceded by cfg.Warmup unrecorded requests. onResult, if not nil, is
// called for every measured request (dropped ones included) as it
// completes, from a single goroutine; it should be quick (it is fed through a
// buffer of up to 16384 results, beyond which workers wait). It must not
// modify the result's ITLms slice, which the engine keeps for the summary.
//
// The returned error reports setup problems (invalid config, unreadable
// prompt file) or ctx cancellation; request failures are data, counted in
// each Summary (see Summary.Failed and Summary.ThresholdExceeded). On
// cancellation the summaries of the modes run so far, the interrupted one
// included (Summary.Interrupted, its in-flight requests counted in
// Summary.Canceled, not as failures), are returned with ctx.Err().
func Run(ctx context.Context, cfg Config, onResult func(RequestResult)) ([]Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	reqs := cfg.Prepared
	if reqs == nil {
		var err error
		if reqs, _, err = PrepareRequests(ctx, cfg); err != nil {
			return nil, err
		}
	}
	conns := 1
	for _, m := range cfg.Modes {
		conns = max(conns, m.inFlight())
	}
	cl, err := newClient(ctx, cfg, reqs, conns)
	if err != nil {
		return nil, err
	}
	defer cl.close()

	out := make([]Summary, 0, len(cfg.Modes))
	for _, m := range cfg.Modes {
		if m.Kind == KindSearch {
			return out, fmt.Errorf("mode %s: a search runs through Search, not Run", m.label())
		}
		if m.SLO == nil {
			m.SLO = cfg.SLO
		}
		cl.meter = nil // warm-up requests are not progress
		if cfg.Warmup > 0 {
			wm := Mode{Name: "warmup", Kind: KindConcurrent, Requests: cfg.Warmup, Concurrency: min(cfg.Warmup, m.inFlight())}
			runClosed(ctx, cl, wm, nil)
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if cfg.OnModeStart != nil {
			cfg.OnModeStart(m.label())
		}
		var pooled []RequestResult
		var reps []Summary
		for rep := 1; rep <= max(m.Repeat, 1); rep++ {
			one := m
			if m.Repeat > 1 {
				one.Name = fmt.Sprintf("%s-r%d", m.label(), rep)
			}
			var stopProgress func()
			if cfg.OnProgress != nil {
				stopProgress = startProgress(cl, one, cfg)
			}
			var before prefixCacheCounters
			var stopKV func() (float64, bool)
			if cfg.MetricsPath != "" {
				before = scrapePrefixCache(ctx, cl.metrics, cfg.BaseURL+cfg.MetricsPath)
				stopKV = sampleKVUsage(ctx, cl.metrics, cfg.BaseURL+cfg.MetricsPath)
			}
			results := runMode(ctx, cl, one, onResult)
			if stopProgress != nil {
				stopProgress()
			}
			s := Summarize(one, results, cfg.ErrorThreshold)
			if cfg.MetricsPath != "" {
				if peak, ok := stopKV(); ok {
					s.KVCacheUsageMax = &peak
				}
				s.setPrefixCache(before, scrapePrefixCache(ctx, cl.metrics, cfg.BaseURL+cfg.MetricsPath))
			}
			s.Interrupted = s.Interrupted || ctx.Err() != nil
			if m.Repeat <= 1 {
				out = append(out, s)
			} else {
				s.Rep = rep
				out = append(out, s)
				reps = append(reps, s)
				pooled = append(pooled, results...)
			}
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
		}
		if m.Repeat > 1 {
			s := Summarize(m, pooled, cfg.ErrorThreshold)
			s.RepeatStats, s.N = RepeatStats(reps), len(reps)
			out = append(out, s)
		}
	}
	return out, nil
}

// startProgress gives the client a fresh meter for mode m and reports it
// to cfg.OnProgress until the returned stop is called (which waits for the
// final report).
func startProgress(cl *client, m Mode, cfg Config) (stop func()) {
	cl.meter = &meter{}
	interval := cfg.ProgressInterval
	if interval <= 0 {
		interval = DefaultProgressInterval
	}
	base := Progress{Mode: m.label(), Total: m.Requests, Duration: m.Duration}
	if m.Kind == KindRate && m.Requests > 0 && m.Duration > 0 {
		base.Total = min(m.Requests, int(m.Rate*m.Duration.Seconds())+1)
	}
	stopCh, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		reportProgress(cl.meter, base, interval, cfg.OnProgress, stopCh)
	}()
	return func() {
		close(stopCh)
		<-done
	}
}

// collector receives finished results: it keeps them per worker (no
// cross-goroutine handoff on the hot path) and, when onResult is set, feeds
// them to onResult on one goroutine through a buffered channel.
type collector struct {
	mu      sync.Mutex
	results []RequestResult // appended by finish from the per-worker slices
	ch      chan RequestResult
	done    chan struct{}
}

func newCollector(n int, onResult func(RequestResult)) *collector {
	c := &collector{}
	if onResult != nil {
		c.ch = make(chan RequestResult, min(max(n, 1), 16384))
		c.done = make(chan struct{})
		go func() {
			defer close(c.done)
			for r := range c.ch {
				onResult(r)
			}
		}()
	}
	return c
}

// add records r in the worker's slice w (owned by the caller).
func (c *collector) add(w *[]RequestResult, r *RequestResult) {
	*w = append(*w, *r)
	if c.ch != nil {
		c.ch <- *r
	}
}

// merge moves a worker's results into the collector.
func (c *collector) merge(w *[]RequestResult) {
	c.mu.Lock()
	c.results = append(c.results, *w...)
	c.mu.Unlock()
	*w = (*w)[:0]
}

// finish waits for onResult to see every result and returns them ordered by
// Index.
func (c *collector) finish() []RequestResult {
	if c.ch != nil {
		close(c.ch)
		<-c.done
	}
	slices.SortFunc(c.results, func(a, b RequestResult) int { return cmp.Compare(a.Index, b.Index) })
	return c.results
}

func runMode(ctx context.Context, cl *client, m Mode, onResult func(RequestResult)) []RequestResult {
	if cl.sessions != nil {
		return runSessions(ctx, cl, m, onResult)
	}
	switch m.Kind {
	case KindRate:
		return runRate(ctx, cl, m, Schedule(m), onResult)
	case KindReplay:
		return runRate(ctx, cl, m, cl.replaySchedule(m), onResult)
	}
	return runClosed(ctx, cl, m, onResult)
}

// runClosed is the closed loop: C workers, each sends its next request when
// the previous one ends, until Requests are taken or Duration has passed.
func runClosed(ctx context.Context, cl *client, m Mode, onResult func(RequestResult)) []RequestResult {
	label := m.label()
	return closedLoop(ctx, cl, m, m.Requests, m.Requests, onResult,
		func(w *worker, i int, intended time.Time, col *collector, local *[]RequestResult) {
			r := RequestResult{Mode: label, Index: i, IntendedStart: intended}
			cl.do(w, cl.body(i), &r)
			col.add(local, &r)
		})
}

// closedLoop runs m's workers (Concurrency of them; one when sequential),
// each taking the next unit i = 0, 1, … and running it, until limit units
// are taken (0: no limit), Duration has passed or ctx ends. A unit's
// intended start is the mode's start for a worker's first unit, else the
// end of its previous one. est sizes the result buffers (0: unknown).
func closedLoop(ctx context.Context, cl *client, m Mode, limit, est int, onResult func(RequestResult),
	run func(w *worker, i int, intended time.Time, col *collector, local *[]RequestResult)) []RequestResult {
	c := max(m.Concurrency, 1)
	if m.Kind == KindSequential {
		c = 1
	}
	if est <= 0 {
		est = 1024
	}
	col := newCollector(est, onResult)
	col.results = make([]RequestResult, 0, est)
	var next atomic.Int64
	t0 := time.Now()
	var deadline time.Time
	if m.Duration > 0 {
		deadline = t0.Add(m.Duration)
	}
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := cl.getWorker()
			defer cl.putWorker(w)
			local := make([]RequestResult, 0, min(est/c+1, 4096))
			defer col.merge(&local)
			intended := t0
			for ctx.Err() == nil {
				if !deadline.IsZero() && !intended.Before(deadline) {
					return
				}
				i := int(next.Add(1) - 1)
				if limit > 0 && i >= limit {
					return
				}
				run(w, i, intended, col, &local)
				intended = time.Now()
			}
		}()
	}
	wg.Wait()
	return col.finish()
}

// runRate is the open loop: one dispatcher sends request i at t0+sched[i]
// on its own goroutine, never waiting for responses. If MaxInFlight requests
// are in flight at that moment the request is recorded as dropped, or with
// WaitForSlot sent as soon as one ends (later ones then catch up); the
// schedule is never shifted. When the dispatcher is late it sends at once
// (catching up), and the lateness shows in LagMs.
func runRate(ctx context.Context, cl *client, m Mode, sched []time.Duration, onResult func(RequestResult)) []RequestResult {
	col := newCollector(len(sched), onResult)
	col.results = make([]RequestResult, 0, len(sched))
	var dropped []RequestResult
	label := m.label()
	limit := int64(m.inFlight())
	var inFlight atomic.Int64
	slotFreed := make(chan struct{}, 1) // WaitForSlot: a request ended
	var wg sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	t0 := time.Now()
	for i, off := range sched {
		intended := t0.Add(off)
		if d := time.Until(intended); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		// Every end leaves a token in slotFreed (capacity 1), so a wake-up
		// cannot be missed between the check and the wait.
		for m.WaitForSlot && inFlight.Load() >= limit && ctx.Err() == nil {
			select {
			case <-slotFreed:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		if inFlight.Load() >= limit {
			if cl.meter != nil {
				cl.meter.dropped.Add(1)
			}
			col.add(&dropped, &RequestResult{Mode: label, Index: i, IntendedStart: intended, ErrorClass: ClassDropped,
				Error: "not sent: max_in_flight requests were in flight"})
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func(i int, intended time.Time) {
			defer wg.Done()
			w := cl.getWorker()
			r := RequestResult{Mode: label, Index: i, IntendedStart: intended}
			cl.do(w, cl.body(i), &r)
			inFlight.Add(-1)
			if m.WaitForSlot {
				select {
				case slotFreed <- struct{}{}:
				default: // the dispatcher is not waiting, or already woken
				}
			}
			col.add(&w.results, &r)
			cl.putWorker(w)
		}(i, intended)
	}
	wg.Wait()
	col.merge(&dropped)
	for _, w := range cl.workers() {
		col.merge(&w.results)
	}
	return col.finish()
}
