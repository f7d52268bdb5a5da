package sim

import (
	"context"
	"sync"
	"time"
)

// request is one HTTP request's handle on the engine.
type request struct {
	seq     seq
	reason  string     // finish reason once all target tokens are out: "length" or "stop"
	events  chan event // one per sampled token; buffered so the engine never blocks
	arrival time.Time
	lastAt  time.Time // time of the previous token, for inter-token latency
}

// event reports one sampled token.
type event struct {
	index    int // 1-based
	at       time.Time
	finished bool
	failed   bool // dropped: the request can never fit the KV pool
}

// engine runs the scheduler against a real clock: each step sleeps its
// modelled duration × time scale, then delivers the sampled tokens.
type engine struct {
	cfg   schedConfig
	cost  costModel
	scale float64
	wake  chan struct{}
	done  chan struct{} // closed when run returns

	mu       sync.Mutex
	sc       *scheduler
	nextID   uint64
	m        engineMetrics
	busy     busyWindow
	modelled time.Duration // Σ unscaled step costs
	steps    uint64
}

func newEngine(cfg schedConfig, cost costModel, scale float64) *engine {
	return &engine{
		cfg:   cfg,
		cost:  cost,
		scale: scale,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		sc:    newScheduler(cfg),
		m:     newEngineMetrics(),
	}
}

// submit queues a request for the prompt's token ids (its prefix cache
// blocks salted with salt) that will produce target tokens, the ith of id
// out(i), and then finish with reason.
func (e *engine) submit(ids []int, salt string, out func(i int) int, target int, reason string) *request {
	now := time.Now()
	r := &request{
		reason:  reason,
		events:  make(chan event, target+1),
		arrival: now,
	}
	var (
		hashes []uint64
		chain  *outputChain
	)
	if e.cfg.prefixCaching {
		hashes = blockHashes(ids, e.cfg.blockSize, salt)
		chain = newOutputChain(ids, e.cfg.blockSize, salt, hashes, out)
	}
	e.mu.Lock()
	e.nextID++
	r.seq = seq{id: e.nextID, prompt: len(ids), hashes: hashes, out: chain, target: target, sink: r}
	e.sc.add(&r.seq)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return r
}

// cachedTokens is the prefix cache hit of r's first admission.
func (e *engine) cachedTokens(r *request) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return r.seq.cachedTokens
}

// resetPrefixCache empties the prefix cache (false while requests hold
// blocks); with preemptRunning it first preempts the running requests.
func (e *engine) resetPrefixCache(preemptRunning bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if preemptRunning {
		for len(e.sc.running) > 0 {
			victim := e.sc.running[len(e.sc.running)-1]
			e.sc.running = e.sc.running[:len(e.sc.running)-1]
			e.sc.preempt(victim)
		}
	}
	return e.sc.resetPrefixCache()
}

// abort drops a request that has not finished (client went away).
func (e *engine) abort(r *request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.seq.state == stateFinished {
		return
	}
	e.sc.finish(&r.seq)
	e.m.success["abort"]++
}

// maxCatchUp bounds how far the engine's clock may lag the wall clock
// before it gives up catching up (after a stall of the host, say).
const maxCatchUp = 50 * time.Millisecond

func (e *engine) run(ctx context.Context) {
	defer close(e.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due time.Time // end of the previous step on the engine's clock
	busy := false     // the previous step ran back to back with this one
	for {
		e.mu.Lock()
		step := e.sc.schedule()
		e.mu.Unlock()
		if len(step) == 0 {
			busy = false
			e.mu.Lock()
			stuck := e.sc.dropStuck()
			if stuck != nil {
				e.m.success["abort"]++
				stuck.sink.events <- event{index: stuck.generated, at: time.Now(), finished: true, failed: true}
			}
			e.mu.Unlock()
			if stuck != nil {
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
				continue
			}
		}
		d := e.cost.stepCost(step)
		now := time.Now()
		start := now
		if busy && due.After(now.Add(-maxCatchUp)) {
			// Back to back: start where the last step ended, so oversleeping
			// one step shortens the next instead of slowing the engine.
			start = due
		}
		due = start.Add(time.Duration(float64(d) * e.scale))
		busy = true
		e.mu.Lock()
		e.busy.add(start, due)
		e.mu.Unlock()
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		e.finishStep(step, d, time.Now())
		e.mu.Unlock()
	}
}

// finishStep applies a step's results; e.mu is held.
func (e *engine) finishStep(step []work, d time.Duration, now time.Time) {
	e.modelled += d
	e.steps++
	for _, res := range e.sc.complete(step) {
		if !res.sampled {
			continue
		}
		s := res.s
		r := s.sink
		e.m.genTokens++
		if s.generated == 1 {
			e.m.promptTokens += uint64(s.prompt)
			e.m.ttft.observe(now.Sub(r.arrival).Seconds())
		} else {
			e.m.itl.observe(now.Sub(r.lastAt).Seconds())
		}
		r.lastAt = now
		if res.finished {
			e.m.e2e.observe(now.Sub(r.arrival).Seconds())
			e.m.success[r.reason]++
		}
		r.events <- event{index: s.generated, at: now, finished: res.finished}
	}
}

// snapshot is the engine state /metrics and the stats logger report.
type snapshot struct {
	running, waiting int
	usage            float64
	preemptions      int
	// prefix cache queries and hits in tokens, and the recent hit rate
	queries, hits uint64
	hitRate       float64
	m             engineMetrics // deep copy
	modelled      time.Duration
	steps         uint64
}

func (e *engine) snapshot() snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return snapshot{
		running:     len(e.sc.running),
		waiting:     len(e.sc.waiting),
		usage:       e.sc.usage(),
		preemptions: e.sc.preemptions,
		queries:     e.sc.queries,
		hits:        e.sc.hits,
		hitRate:     e.sc.hitWindow.rate(),
		m:           e.m.clone(),
		modelled:    e.modelled,
		steps:       e.steps,
	}
}

// utilPercent is the share of the last utilWindow the engine was busy.
func (e *engine) utilPercent(now time.Time) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.busy.percent(now)
}

// utilWindow is the averaging window of the simulated GPU utilisation,
// about what nvidia-smi's utilization.gpu averages over.
const utilWindow = time.Second

// busyWindow keeps the recent busy intervals of the engine.
type busyWindow struct {
	iv [][2]time.Time
}

func (b *busyWindow) add(start, end time.Time) {
	cut := start.Add(-utilWindow)
	i := 0
	for i < len(b.iv) && b.iv[i][1].Before(cut) {
		i++
	}
	b.iv = append(b.iv[i:], [2]time.Time{start, end})
}

func (b *busyWindow) percent(now time.Time) float64 {
	from := now.Add(-utilWindow)
	var busy time.Duration
	for _, iv := range b.iv {
		s, e := iv[0], iv[1]
		if s.Before(from) {
			s = from
		}
		if e.After(now) {
			e = now
		}
		if e.After(s) {
			busy += e.Sub(s)
		}
	}
	return min(100, 100*busy.Seconds()/utilWindow.Seconds())
}
