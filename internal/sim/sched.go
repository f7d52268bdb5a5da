package sim

// This file is the engine's scheduler: a pure state machine with no clock,
// so tests can drive it step by step. It follows vLLM V1's scheduler:
// running requests first (decode or the next prefill chunk), then waiting
// ones while the token budget and max_num_seqs allow; a request that cannot
// get a block preempts the most recently admitted running request
// (recompute: its blocks are freed and its prompt plus generated tokens are
// prefilled again when it is resumed). With prefix caching (prefixcache.go)
// a request admitted from the queue first takes the cached blocks of its
// prompt's prefix and computes only the rest.

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

	// hashes are the chained hashes of the full blocks of known tokens
	// (nil: the request shares nothing); out extends them as tokens are
	// sampled (nil: only the prompt's blocks are hashed).
	hashes []uint64
	out    *outputChain

	generated int // tokens sampled so far
	computed  int // tokens whose KV is in the cache
	blocks    int // physical KV blocks held, shared ones included
	kv        []seqKV
	state     reqState
	preempted int // times preempted

	// cachedTokens is the prefix cache hit of the first admission (vLLM's
	// num_cached_tokens), valid once queried.
	cachedTokens int
	queried      bool

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
	prefixCaching       bool // --enable-prefix-caching
}

type scheduler struct {
	cfg     schedConfig
	kinds   []kvKind
	waiting []*seq // FIFO; preempted requests go to the front
	running []*seq // admission order
	used    int    // physical blocks held by running requests, shared ones once

	// evictable is the physical blocks of free cached blocks (in lru):
	// free, but holding a prefix until evicted.
	evictable int
	lru       lruList

	preemptions int // total, for vllm:num_preemptions_total

	// Prefix cache queries and hits in tokens, of requests admitted for the
	// first time (vllm:prefix_cache_queries_total / _hits_total), and the
	// recent hit rate the periodic log line reports.
	queries, hits uint64
	hitWindow     hitRateWindow
}

func newScheduler(cfg schedConfig) *scheduler {
	sc := &scheduler{cfg: cfg}
	kind := func(weight int, sliding bool) {
		if weight > 0 {
			sc.kinds = append(sc.kinds, kvKind{weight: weight, sliding: sliding, cache: map[uint64]*cachedBlock{}})
		}
	}
	switch {
	case cfg.window <= 0:
		kind(1, false)
	case cfg.fullGroups == 0 && cfg.slidingGroups == 0:
		kind(1, true) // a bare config (tests): one sliding group
	default:
		kind(cfg.fullGroups, false)
		kind(cfg.slidingGroups, true)
	}
	return sc
}

func (sc *scheduler) add(s *seq) {
	s.state = stateWaiting
	sc.waiting = append(sc.waiting, s)
}

func (sc *scheduler) idle() bool { return len(sc.waiting) == 0 && len(sc.running) == 0 }

func cdiv(a, b int) int { return (a + b - 1) / b }

// span is the logical blocks [lo, hi) of kind k a request holds with
// tokens in its KV cache after computing a chunk of n: all of them for full
// attention; with a sliding window W only the blocks the window (plus the
// chunk) still reaches, cdiv(W−1+n, block)+1, as vLLM's sliding-window
// manager frees the rest. A hybrid model holds a span of each kind, per
// KV-cache group of that kind.
func (sc *scheduler) span(k, tokens, n int) (lo, hi int) {
	hi = cdiv(tokens, sc.cfg.blockSize)
	if !sc.kinds[k].sliding {
		return 0, hi
	}
	return hi - min(hi, cdiv(sc.cfg.window-1+n, sc.cfg.blockSize)+1), hi
}

// grow makes s hold the blocks for tokens after a chunk of n, taking the
// cached blocks of its first hit prompt blocks; false, changing nothing,
// if the pool is short. Blocks the chunk completes are offered to the
// prefix cache.
func (sc *scheduler) grow(s *seq, tokens, n, hit int) bool {
	if s.kv == nil {
		s.kv = make([]seqKV, len(sc.kinds))
	}
	free := sc.usable() - sc.used // evictable blocks count as free
	cost := 0
	for k := range sc.kinds {
		kv, w := &s.kv[k], sc.kinds[k].weight
		lo, hi := sc.span(k, tokens, n)
		for p := kv.lo; p < min(lo, kv.hi); p++ { // leaving the window
			if b := kv.at(p); b == nil || b.refs == 1 {
				free += w
			}
		}
		for p := range kv.entering(lo, hi) {
			if p < hit {
				if b := sc.lookup(k, s.hashes[p]); b != nil {
					if b.refs == 0 {
						cost += w
					}
					continue
				}
			}
			cost += w
		}
	}
	if cost > free {
		return false
	}
	private := 0
	for k := range sc.kinds {
		kv, w := &s.kv[k], sc.kinds[k].weight
		lo, hi := sc.span(k, tokens, n)
		for p := kv.lo; p < min(lo, kv.hi); p++ {
			sc.releaseAt(s, k, p)
		}
		if sc.cfg.prefixCaching && len(kv.ent) < len(s.hashes) {
			kv.ent = append(kv.ent, make([]*cachedBlock, len(s.hashes)-len(kv.ent))...)
		}
		for p := range kv.entering(lo, hi) {
			if p < hit {
				if b := sc.lookup(k, s.hashes[p]); b != nil {
					sc.acquire(b)
					kv.ent[p] = b
					continue
				}
			}
			private += w
		}
		kv.lo, kv.hi = lo, hi
	}
	sc.reserve(private)
	s.blocks = 0
	for k := range sc.kinds {
		kv := &s.kv[k]
		s.blocks += sc.kinds[k].weight * (kv.hi - kv.lo)
		if !sc.cfg.prefixCaching {
			continue
		}
		// Cache the full blocks this chunk completes, as vLLM does when it
		// allocates them; a block another request cached first stays private.
		full := min(tokens/sc.cfg.blockSize, len(s.hashes))
		for p := max(kv.registered, kv.lo); p < full; p++ {
			if kv.ent[p] != nil {
				continue
			}
			if _, ok := sc.kinds[k].cache[s.hashes[p]]; !ok {
				b := &cachedBlock{hash: s.hashes[p], kind: k, refs: 1}
				sc.kinds[k].cache[b.hash] = b
				kv.ent[p] = b
			}
		}
		kv.registered = max(kv.registered, full)
	}
	return true
}

// entering yields the positions of [lo, hi) that kv does not hold yet.
func (kv *seqKV) entering(lo, hi int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for p := lo; p < min(kv.lo, hi); p++ { // back into a wider window
			if !yield(p) {
				return
			}
		}
		for p := max(lo, kv.hi); p < hi; p++ {
			if !yield(p) {
				return
			}
		}
	}
}

// at is the cached block backing position p, nil for a private block.
func (kv *seqKV) at(p int) *cachedBlock {
	if p < len(kv.ent) {
		return kv.ent[p]
	}
	return nil
}

// releaseAt gives back s's block at position p of kind k.
func (sc *scheduler) releaseAt(s *seq, k, p int) {
	kv := &s.kv[k]
	if b := kv.at(p); b != nil {
		sc.drop(b)
		kv.ent[p] = nil
		return
	}
	sc.used -= sc.kinds[k].weight
}

// release frees all of s's blocks, last first, so that the tail of a
// prompt is evicted before its head (vLLM frees in reverse order).
func (sc *scheduler) release(s *seq) {
	for k := range s.kv {
		kv := &s.kv[k]
		for p := kv.hi - 1; p >= kv.lo; p-- {
			sc.releaseAt(s, k, p)
		}
		kv.lo, kv.hi, kv.registered = 0, 0, 0
	}
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
		for !sc.grow(s, s.computed+n, n, 0) {
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
		// The last token is always computed, for its logits: a hit covers at
		// most known−1 tokens (vLLM's max_cache_hit_length).
		hitBlocks := sc.longestHit(s, (s.known()-1)/sc.cfg.blockSize)
		hit := hitBlocks * sc.cfg.blockSize
		n := min(s.known()-hit, budget)
		if !sc.grow(s, hit+n, n, hitBlocks) {
			break
		}
		sc.waiting = sc.waiting[1:]
		s.state = stateRunning
		s.computed = hit
		sc.record(s, hit)
		sc.running = append(sc.running, s)
		out = append(out, work{s: s, ctx: hit, n: n})
		budget -= n
	}
	return out
}

// record counts an admitted request's prefix cache lookup: its tokens as
// queries and its hit as hits, for requests admitted for the first time
// only (vLLM counts resumed preempted requests apart, in counters it does
// not export).
func (sc *scheduler) record(s *seq, hit int) {
	if !s.queried {
		s.queried, s.cachedTokens = true, hit
	}
	if !sc.cfg.prefixCaching || s.preempted > 0 {
		return
	}
	sc.queries += uint64(s.known())
	sc.hits += uint64(hit)
	sc.hitWindow.observe(s.known(), hit)
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
		if s.out != nil {
			s.out.sampled(s, sc.cfg.blockSize)
		}
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
