package sim

import (
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// checkInvariants fails t if the scheduler's bookkeeping is inconsistent:
// the blocks in use are the running requests' private blocks plus each
// cached block they share once, and each cached block's reference count is
// the number of requests holding it.
func checkInvariants(t *testing.T, sc *scheduler, step []work) {
	t.Helper()
	if sc.used+sc.evictable > sc.usable() {
		t.Fatalf("%d blocks in use + %d free cached > %d usable", sc.used, sc.evictable, sc.usable())
	}
	used := 0
	refs := map[*cachedBlock]int{}
	for _, s := range sc.running {
		if s.state != stateRunning {
			t.Fatalf("request %d in running list has state %d", s.id, s.state)
		}
		if sc.cfg.window == 0 && s.blocks < cdiv(s.computed, sc.cfg.blockSize) {
			t.Fatalf("request %d: %d tokens computed in %d blocks", s.id, s.computed, s.blocks)
		}
		for k, kv := range s.kv {
			for p := kv.lo; p < kv.hi; p++ {
				if b := kv.at(p); b != nil {
					refs[b]++
				} else {
					used += sc.kinds[k].weight
				}
			}
		}
	}
	for b, n := range refs {
		if b.refs != n {
			t.Fatalf("cached block %x has %d refs, %d running requests hold it", b.hash, b.refs, n)
		}
		if sc.kinds[b.kind].cache[b.hash] != b {
			t.Fatalf("a held cached block %x is not in the cache", b.hash)
		}
		used += sc.kinds[b.kind].weight
	}
	evictable := 0
	for b := sc.lru.head; b != nil; b = b.next {
		if b.refs != 0 {
			t.Fatalf("cached block %x in the free list has %d refs", b.hash, b.refs)
		}
		evictable += sc.kinds[b.kind].weight
	}
	for _, s := range sc.waiting {
		if s.blocks != 0 {
			t.Fatalf("waiting request %d holds %d blocks", s.id, s.blocks)
		}
	}
	if used != sc.used || evictable != sc.evictable {
		t.Fatalf("running requests hold %d blocks and %d are free cached; allocator counts %d and %d", used, evictable, sc.used, sc.evictable)
	}
	if len(sc.running) > sc.cfg.maxNumSeqs {
		t.Fatalf("%d running > max_num_seqs %d", len(sc.running), sc.cfg.maxNumSeqs)
	}
	tokens := 0
	for _, w := range step {
		tokens += w.n
		if w.n <= 0 {
			t.Fatalf("request %d scheduled for %d tokens", w.s.id, w.n)
		}
	}
	if tokens > sc.cfg.maxNumBatchedTokens {
		t.Fatalf("step computes %d tokens > budget %d", tokens, sc.cfg.maxNumBatchedTokens)
	}
}

// runRandomLoad feeds n random requests (arriving over the first steps) to
// a scheduler and runs it dry, checking invariants at every step. With
// prefix caching, prompts start with a random cut of one of three shared
// prefixes.
func runRandomLoad(t *testing.T, rng *rand.Rand, cfg schedConfig, n, maxLen int) *scheduler {
	t.Helper()
	sc := newScheduler(cfg)
	var all []*seq
	pending := n
	prefixes := [][]int{tokens(1, maxLen), tokens(2, maxLen), tokens(3, maxLen)}
	var queries uint64
	for steps := 0; ; steps++ {
		for k := rng.IntN(4); k > 0 && pending > 0; k-- {
			prompt := 1 + rng.IntN(maxLen/2)
			s := &seq{id: uint64(len(all) + 1), prompt: prompt, target: 1 + rng.IntN(maxLen-prompt)}
			if cfg.prefixCaching {
				shared := rng.IntN(prompt + 1)
				ids := withPrefix(prefixes[rng.IntN(len(prefixes))][:shared], rng.Uint64(), prompt-shared)
				s.hashes = blockHashes(ids, cfg.blockSize, "")
				s.out = newOutputChain(ids, cfg.blockSize, "", s.hashes, func(i int) int { return i % 7 })
				queries += uint64(prompt)
			}
			all = append(all, s)
			sc.add(s)
			pending--
		}
		step := sc.schedule()
		// The full check walks every held block: every few steps, and around
		// every idle point.
		deep := steps%8 == 0 || len(step) == 0
		if deep {
			checkInvariants(t, sc, step)
		}
		if len(step) == 0 {
			if s := sc.dropStuck(); s != nil {
				t.Fatalf("request %d (prompt %d, target %d) can never be scheduled", s.id, s.prompt, s.target)
			}
			if pending == 0 {
				break
			}
			continue
		}
		sc.complete(step)
		if deep {
			checkInvariants(t, sc, nil)
		}
		if steps > 1_000_000 {
			t.Fatal("scheduler does not make progress")
		}
	}
	for _, s := range all {
		if s.state != stateFinished || s.generated != s.target {
			t.Fatalf("request %d: state %d, generated %d of %d", s.id, s.state, s.generated, s.target)
		}
	}
	if sc.used != 0 || !sc.idle() {
		t.Fatalf("after the run: %d blocks used, %d running, %d waiting", sc.used, len(sc.running), len(sc.waiting))
	}
	if sc.queries != queries {
		t.Fatalf("prefix cache queries %d, want %d: every prompt once", sc.queries, queries)
	}
	return sc
}

func TestSchedulerRandomLoad(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 40 {
		const maxLen = 512
		cfg := schedConfig{
			blockSize:           []int{1, 8, 16, 32}[rng.IntN(4)],
			maxNumSeqs:          1 + rng.IntN(32),
			maxNumBatchedTokens: 32 + rng.IntN(1024),
		}
		// From one max-length request's worth of blocks up to plenty.
		perReq := cdiv(maxLen, cfg.blockSize)
		cfg.numBlocks = perReq + rng.IntN(8*perReq)
		if rng.IntN(3) == 0 {
			cfg.window = 16 + rng.IntN(200)
			if rng.IntN(2) == 0 { // a hybrid model: groups of both kinds
				cfg.fullGroups, cfg.slidingGroups = 1+rng.IntN(2), 1+rng.IntN(3)
				cfg.numBlocks *= cfg.fullGroups + cfg.slidingGroups
			}
		}
		cfg.prefixCaching = rng.IntN(2) == 0
		sc := runRandomLoad(t, rng, cfg, 60, maxLen)
		t.Logf("case %d: %+v → %d preemptions, prefix cache hits %d of %d tokens", i, cfg, sc.preemptions, sc.hits, sc.queries)
	}
}

func TestSchedulerPreemptsWhenPoolIsShort(t *testing.T) {
	t.Parallel()
	// 8 requests of 100 + 100 tokens need up to 13 blocks each; the pool
	// holds 20, so they cannot all run to completion together.
	cfg := schedConfig{numBlocks: 20, blockSize: 16, maxNumSeqs: 8, maxNumBatchedTokens: 2048}
	sc := newScheduler(cfg)
	var all []*seq
	for i := range 8 {
		s := &seq{id: uint64(i + 1), prompt: 100, target: 100}
		all = append(all, s)
		sc.add(s)
	}
	for {
		step := sc.schedule()
		checkInvariants(t, sc, step)
		if len(step) == 0 {
			break
		}
		sc.complete(step)
	}
	if sc.preemptions == 0 {
		t.Fatal("no preemption although the pool cannot hold the batch")
	}
	preempted := 0
	for _, s := range all {
		if s.generated != s.target {
			t.Fatalf("request %d generated %d of %d", s.id, s.generated, s.target)
		}
		if s.preempted > 0 {
			preempted++
		}
	}
	t.Logf("%d preemptions over %d requests", sc.preemptions, preempted)

	// The same load with a pool that holds it all never preempts.
	big := newScheduler(schedConfig{numBlocks: 8*13 + 1 /* + vLLM's null block */, blockSize: 16, maxNumSeqs: 8, maxNumBatchedTokens: 2048})
	for i := range 8 {
		big.add(&seq{id: uint64(i + 1), prompt: 100, target: 100})
	}
	for step := big.schedule(); len(step) > 0; step = big.schedule() {
		big.complete(step)
	}
	if big.preemptions != 0 {
		t.Fatalf("%d preemptions with a pool that fits the whole batch", big.preemptions)
	}
}

func TestSchedulerChunkedPrefill(t *testing.T) {
	t.Parallel()
	sc := newScheduler(schedConfig{numBlocks: 1000, blockSize: 16, maxNumSeqs: 4, maxNumBatchedTokens: 256})
	long := &seq{id: 1, prompt: 1000, target: 4}
	short := &seq{id: 2, prompt: 10, target: 4}
	sc.add(long)
	sc.add(short)
	step := sc.schedule()
	if len(step) != 1 || step[0].s != long || step[0].n != 256 {
		t.Fatalf("first step = %+v, want the long prompt's first 256-token chunk only", step)
	}
	sc.complete(step)
	if long.generated != 0 || long.computed != 256 {
		t.Fatalf("after one chunk: computed %d, generated %d", long.computed, long.generated)
	}
	// Prefill chunks continue; the short request joins when budget is left.
	for range 2 {
		sc.complete(sc.schedule())
	}
	if long.computed != 768 {
		t.Fatalf("computed %d after 3 chunks, want 768", long.computed)
	}
	step = sc.schedule() // 232 tokens finish the prompt; 24 left for the short one
	if len(step) != 2 || step[0].n != 232 || step[1].s != short || step[1].n != 10 {
		t.Fatalf("step = %+v", step)
	}
	sc.complete(step)
	if long.generated != 1 || short.generated != 1 {
		t.Fatalf("first tokens: long %d, short %d", long.generated, short.generated)
	}
}

// offline runs requests through the scheduler and cost model without a
// clock and returns the modelled time until all finished.
func offline(cfg schedConfig, cost costModel, reqs []*seq) time.Duration {
	sc := newScheduler(cfg)
	for _, s := range reqs {
		sc.add(s)
	}
	var total time.Duration
	for step := sc.schedule(); len(step) > 0; step = sc.schedule() {
		total += cost.stepCost(step)
		sc.complete(step)
	}
	return total
}

// setupFor resolves a sim configuration the way Serve does.
func setupFor(t *testing.T, args ...string) engineSetup {
	t.Helper()
	o, err := ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	st, err := resolve(o, &logger{w: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// batchTimes is the modelled time of n requests of tokens output tokens for
// the seed's prompt, one after another and all at once.
func batchTimes(st engineSetup, n, tokens int) (sequential, concurrent time.Duration) {
	cfg, cost := engineModel(st, false, false)
	prompt := len(newTokenizer(0).encode("Explain memory fragmentation in one short sentence."))
	var all []*seq
	for i := range n {
		r := &seq{id: uint64(i), prompt: prompt, target: tokens}
		sequential += offline(cfg, cost, []*seq{{id: uint64(i), prompt: prompt, target: tokens}})
		all = append(all, r)
	}
	return sequential, offline(cfg, cost, all)
}

func TestModelledConcurrencySpeedup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		model, gpu string
		min        float64
	}{
		{"microsoft/Phi-3-mini-4k-instruct", "H100-80GB", 10},
		{"Qwen/Qwen2.5-0.5B-Instruct", "L4", 5},
		{"meta-llama/Llama-3.1-8B-Instruct", "A100-80GB", 10},
	} {
		st := setupFor(t, tc.model, "--gpu", tc.gpu, "--max-model-len", "4096")
		s, c := batchTimes(st, 32, 32)
		speedup := s.Seconds() / c.Seconds()
		t.Logf("%s on %s, 32 × 32 tokens: sequential %.3fs, concurrent %.3fs, speedup %.1fx; single-stream %.0f tok/s",
			tc.model, tc.gpu, s.Seconds(), c.Seconds(), speedup, 32*32/s.Seconds())
		if speedup < tc.min {
			t.Errorf("%s on %s: concurrent speedup %.1fx < %.0fx", tc.model, tc.gpu, speedup, tc.min)
		}
	}
}

func TestStepCostRoofline(t *testing.T) {
	t.Parallel()
	st := setupFor(t, "microsoft/Phi-3-mini-4k-instruct")
	_, cost := engineModel(st, false, false)
	// One decode token: bandwidth-bound, weights / (0.8 × 3.35 TB/s) + 1 ms.
	got := cost.stepCost([]work{{ctx: 10, n: 1}})
	bytes := 7642159104 + 11*393216.0
	want := time.Duration(bytes/(0.8*3.35e12)*1e9) + stepOverhead + seqOverhead
	if d := got - want; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("decode step = %v, want %v", got, want)
	}
	// An 8192-token prefill: compute-bound and much longer than a decode.
	pre := cost.stepCost([]work{{ctx: 0, n: 8192}})
	flops := 2*3821079552*8192.0 + 2*32*32*192*(8192*8193/2.0)
	if want := time.Duration(flops/(0.5*989e12)*1e9) + stepOverhead + seqOverhead; pre < want-time.Microsecond || pre > want+time.Microsecond {
		t.Errorf("prefill step = %v, want %v", pre, want)
	}
	// Batching 32 decodes costs far less than 32 single decodes.
	var batch []work
	for range 32 {
		batch = append(batch, work{ctx: 20, n: 1})
	}
	if b := cost.stepCost(batch); b > 2*got {
		t.Errorf("32-way decode step %v > 2 × single %v", b, got)
	}
	_, eager := engineModel(st, true, false)
	if e := eager.stepCost([]work{{ctx: 10, n: 1}}); e <= got {
		t.Errorf("eager step %v not slower than graph step %v", e, got)
	}
}

// As in vLLM V1, whose BlockPool takes one "null" block out of
// num_gpu_blocks, only num_gpu_blocks-1 blocks hold KV, and usage is
// used/(num_gpu_blocks-1) (kv-cache-facts.md §1.1.6;
// vllm/v1/core/block_pool.py).
func TestSchedulerReservesTheNullBlock(t *testing.T) {
	sc := newScheduler(schedConfig{numBlocks: 4, blockSize: 16, maxNumSeqs: 8, maxNumBatchedTokens: 1024})
	a := &seq{id: 1, prompt: 32, target: 4} // 2 blocks
	b := &seq{id: 2, prompt: 32, target: 4} // 2 blocks
	sc.add(a)
	sc.add(b)
	sc.schedule()
	if usable := sc.cfg.numBlocks - 1; sc.used > usable {
		t.Errorf("scheduler holds %d blocks of a %d-block pool; vLLM can use only %d (one is the null block)", sc.used, sc.cfg.numBlocks, usable)
	}
	if u := sc.usage(); u > 1 || (sc.used == sc.cfg.numBlocks-1 && u != 1) {
		t.Errorf("usage %v; vLLM's get_usage is used/(num_gpu_blocks-1)", u)
	}
}
