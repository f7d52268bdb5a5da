package sim

// This file is the engine's scheduler: a pure state machine with no clock,
// so tests can drive it step by step. It follows vLLM V1's scheduler:
// running requests first (decode or the next prefill chunk), then waiting
// ones while the token budget and max_num_seqs allow; a request that cannot
// get a block preempts the most recently admitted running request
// (recompute: its blocks are freed and its prompt plus generated tokens are
// prefilled again when it is resumed).

type reqState int

const (
	stateWaiting reqState = iota
	stateRunning
	stateFinished
)

// seq is one request inside the scheduler.
type seq struct {
	id     uint64
	prompt int // prompt tokens
	target int // tokens to generate before finishing (>= 1)

	generated int // tokens sampled so far
	computed  int // tokens whose KV is in the cache
	blocks    int // KV blocks held
	state     reqState
	preempted int // times preempted

	// owner data for the real-time engine (nil in pure scheduler tests)
	sink *request
}

// known is the number of tokens of the sequence that exist: the prompt plus
// what was sampled. Sampling the next token needs all of them computed.
func (s *seq) known() int { return s.prompt + s.generated }

// work is one request's share of a step.
type work struct {
	s *seq
	// ctx is the number of tokens already in the KV cache before the step;
	// n is the number of tokens computed in it.
	ctx, n int
}

// schedConfig holds the scheduler's limits.
type schedConfig struct {
	numBlocks           int // KV blocks in the pool (vLLM's num_gpu_blocks)
	blockSize           int
	window              int // sliding window in tokens, 0 for full attention
	fullGroups          int // KV-cache groups of full-attention layers (with window > 0: a hybrid model)
	slidingGroups       int // KV-cache groups of sliding-window layers
	maxNumSeqs          int
	maxNumBatchedTokens int
}

type scheduler struct {
	cfg     schedConfig
	waiting []*seq // FIFO; preempted requests go to the front
	running []*seq // admission order
	used    int    // blocks held by running requests

	preemptions int // total, for vllm:num_preemptions_total
}

func newScheduler(cfg schedConfig) *scheduler { return &scheduler{cfg: cfg} }

func (sc *scheduler) add(s *seq) {
	s.state = stateWaiting
	sc.waiting = append(sc.waiting, s)
}

func (sc *scheduler) idle() bool { return len(sc.waiting) == 0 && len(sc.running) == 0 }

func cdiv(a, b int) int { return (a + b - 1) / b }

// blocksFor is the number of blocks a request holds with tokens in its KV
// cache after computing a chunk of n: all of them for full attention; with
// a sliding window W only the blocks the window (plus the chunk) still
// reaches, cdiv(W−1+n, block)+1, as vLLM's sliding-window manager frees the
// rest.
//
// A hybrid model counts both, per KV-cache group (fullGroups and
// slidingGroups; a model of one kind has one group).
func (sc *scheduler) blocksFor(tokens, n int) int {
	full := cdiv(tokens, sc.cfg.blockSize)
	w := sc.cfg.window
	if w <= 0 {
		return full
	}
	swa := min(full, cdiv(w-1+n, sc.cfg.blockSize)+1)
	if sc.cfg.fullGroups == 0 && sc.cfg.slidingGroups == 0 {
		return swa // a bare config (tests): one sliding group
	}
	return sc.cfg.fullGroups*full + sc.cfg.slidingGroups*swa
}

// grow makes s hold the blocks for tokens after a chunk of n; false if the
// pool is short.
func (sc *scheduler) grow(s *seq, tokens, n int) bool {
	need := sc.blocksFor(tokens, n) - s.blocks
	if need > 0 && sc.used+need > sc.usable() {
		return false
	}
	sc.used += need
	s.blocks += need
	return true
}

func (sc *scheduler) release(s *seq) {
	sc.used -= s.blocks
	s.blocks = 0
}

// schedule picks the next step's work. An empty result means idle.
func (sc *scheduler) schedule() []work {
	budget := sc.cfg.maxNumBatchedTokens
	var out []work
	preempted := false

	for i := 0; i < len(sc.running) && budget > 0; i++ {
		s := sc.running[i]
		n := min(s.known()-s.computed, budget)
		if n <= 0 {
			continue
		}
		for !sc.grow(s, s.computed+n, n) {
			// Preempt the lowest-priority (last admitted) running request.
			victim := sc.running[len(sc.running)-1]
			sc.running = sc.running[:len(sc.running)-1]
			sc.preempt(victim)
			preempted = true
			if victim == s {
				n = 0
				break
			}
		}
		if n == 0 {
			break // s preempted itself: everything after it is gone too
		}
		out = append(out, work{s: s, ctx: s.computed, n: n})
		budget -= n
	}

	// Like vLLM, admit nothing new in a step that had to preempt.
	for !preempted && len(sc.waiting) > 0 && budget > 0 && len(sc.running) < sc.cfg.maxNumSeqs {
		s := sc.waiting[0]
		n := min(s.known()-s.computed, budget)
		if !sc.grow(s, s.computed+n, n) {
			break
		}
		sc.waiting = sc.waiting[1:]
		s.state = stateRunning
		sc.running = append(sc.running, s)
		out = append(out, work{s: s, ctx: s.computed, n: n})
		budget -= n
	}
	return out
}

func (sc *scheduler) preempt(s *seq) {
	sc.release(s)
	s.computed = 0
	s.state = stateWaiting
	s.preempted++
	sc.preemptions++
	sc.waiting = append([]*seq{s}, sc.waiting...)
}

// result is what one step did to one request.
type result struct {
	s        *seq
	sampled  bool // a new token was sampled (s.generated is its 1-based index)
	finished bool
}

// complete applies a scheduled step. Requests aborted since schedule (state
// finished) are skipped.
func (sc *scheduler) complete(step []work) []result {
	out := make([]result, 0, len(step))
	for _, w := range step {
		s := w.s
		if s.state != stateRunning {
			continue
		}
		s.computed += w.n
		if s.computed < s.known() {
			out = append(out, result{s: s}) // prefill chunk, nothing sampled
			continue
		}
		s.generated++
		r := result{s: s, sampled: true}
		if s.generated >= s.target {
			r.finished = true
			sc.finish(s)
		}
		out = append(out, r)
	}
	return out
}

// finish removes s (running or waiting) and frees its blocks.
func (sc *scheduler) finish(s *seq) {
	switch s.state {
	case stateRunning:
		for i, r := range sc.running {
			if r == s {
				sc.running = append(sc.running[:i], sc.running[i+1:]...)
				break
			}
		}
	case stateWaiting:
		for i, r := range sc.waiting {
			if r == s {
				sc.waiting = append(sc.waiting[:i], sc.waiting[i+1:]...)
				break
			}
		}
	}
	sc.release(s)
	s.state = stateFinished
}

// dropStuck removes and returns the head of the queue when nothing runs and
// it still cannot be scheduled: it needs more blocks than the whole pool.
// vLLM's startup check makes this impossible for requests within
// max_model_len; the guard keeps the engine from spinning if it happens.
func (sc *scheduler) dropStuck() *seq {
	if len(sc.running) > 0 || len(sc.waiting) == 0 {
		return nil
	}
	s := sc.waiting[0]
	sc.finish(s)
	return s
}

// usable is the blocks requests can hold: vLLM V1's BlockPool keeps one of
// num_gpu_blocks as the null block.
func (sc *scheduler) usable() int { return max(sc.cfg.numBlocks-1, 0) }

// usage is the fraction of usable KV blocks in use (vllm:kv_cache_usage_perc,
// which vLLM's get_usage divides by num_gpu_blocks-1).
func (sc *scheduler) usage() float64 {
	if sc.usable() == 0 {
		return 0
	}
	return float64(sc.used) / float64(sc.usable())
}
