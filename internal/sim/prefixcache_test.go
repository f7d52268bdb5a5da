package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// tokens returns n pseudo-random token ids below 32000 drawn from seed.
func tokens(seed uint64, n int) []int {
	rng := rand.New(rand.NewPCG(seed, 1))
	ids := make([]int, n)
	for i := range ids {
		ids[i] = rng.IntN(32000)
	}
	return ids
}

// withPrefix is prefix followed by n unique ids drawn from seed.
func withPrefix(prefix []int, seed uint64, n int) []int {
	return append(append([]int(nil), prefix...), tokens(seed, n)...)
}

// cachingConfig is a small full-attention scheduler with prefix caching.
func cachingConfig(blocks int) schedConfig {
	return schedConfig{numBlocks: blocks, blockSize: 16, maxNumSeqs: 8, maxNumBatchedTokens: 2048, prefixCaching: true}
}

// newSeq is a request for ids that generates target tokens.
func newSeq(sc *scheduler, id uint64, ids []int, target int) *seq {
	return &seq{id: id, prompt: len(ids), hashes: blockHashes(ids, sc.cfg.blockSize, ""), target: target}
}

// drain runs the scheduler until it is idle, checking its invariants, and
// returns the modelled time.
func drain(t *testing.T, sc *scheduler, cost costModel) time.Duration {
	t.Helper()
	var total time.Duration
	for steps := 0; !sc.idle(); steps++ {
		step := sc.schedule()
		checkInvariants(t, sc, step)
		if len(step) == 0 {
			t.Fatal("the scheduler is stuck")
		}
		total += cost.stepCost(step)
		sc.complete(step)
		checkInvariants(t, sc, nil)
		if steps > 100_000 {
			t.Fatal("the scheduler does not make progress")
		}
	}
	return total
}

// serveOne runs one request alone to completion and returns its prefix
// cache hit in tokens.
func serveOne(t *testing.T, sc *scheduler, s *seq) int {
	t.Helper()
	sc.add(s)
	drain(t, sc, costModel{})
	if s.state != stateFinished || s.generated != s.target {
		t.Fatalf("request %d did not finish: state %d, %d of %d tokens", s.id, s.state, s.generated, s.target)
	}
	return s.cachedTokens
}

// hitOf is the prefix cache hit a request for ids would get now, without
// admitting it.
func hitOf(sc *scheduler, ids []int) int {
	s := newSeq(sc, 0, ids, 1)
	return sc.longestHit(s, (len(ids)-1)/sc.cfg.blockSize) * sc.cfg.blockSize
}

func TestRepeatedPromptHitsItsFullBlocks(t *testing.T) {
	for _, tc := range []struct{ prompt, hit int }{
		{100, 96}, // 6 full blocks; the partial 7th is never cached
		{15, 0},   // no full block
		{17, 16},
		// A prompt of whole blocks recomputes its last block: vLLM caps a hit
		// at prompt−1 tokens so that the last token's logits are computed.
		{32, 16},
	} {
		sc := newScheduler(cachingConfig(100))
		ids := tokens(1, tc.prompt)
		if got := serveOne(t, sc, newSeq(sc, 1, ids, 4)); got != 0 {
			t.Errorf("%d tokens: first request hit %d tokens in an empty cache", tc.prompt, got)
		}
		if got := serveOne(t, sc, newSeq(sc, 2, ids, 4)); got != tc.hit {
			t.Errorf("%d tokens: repeated request hit %d tokens, want %d", tc.prompt, got, tc.hit)
		}
		if sc.queries != uint64(2*tc.prompt) || sc.hits != uint64(tc.hit) {
			t.Errorf("%d tokens: counters queries=%d hits=%d, want %d and %d", tc.prompt, sc.queries, sc.hits, 2*tc.prompt, tc.hit)
		}
	}
}

func TestSharedPrefixHitsItsFullBlocks(t *testing.T) {
	for _, p := range []int{16, 40, 100, 512} {
		sc := newScheduler(cachingConfig(400))
		prefix := tokens(7, p)
		want := p / 16 * 16
		for i := range 4 {
			got := serveOne(t, sc, newSeq(sc, uint64(i), withPrefix(prefix, uint64(100+i), 30), 3))
			if i == 0 && got != 0 {
				t.Errorf("prefix %d: the first request hit %d tokens", p, got)
			}
			if i > 0 && got != want {
				t.Errorf("prefix %d: request %d hit %d tokens, want floor(P/16)*16 = %d", p, i, got, want)
			}
		}
		if wantHits := uint64(3 * want); sc.hits != wantHits {
			t.Errorf("prefix %d: vllm:prefix_cache_hits %d, want %d", p, sc.hits, wantHits)
		}
	}
}

// Concurrent requests sharing a cached prefix hold its blocks once.
func TestSharedBlocksCountOnceInUsage(t *testing.T) {
	sc := newScheduler(cachingConfig(400))
	prefix := tokens(7, 512)
	serveOne(t, sc, newSeq(sc, 1, withPrefix(prefix, 1, 30), 2))
	var reqs []*seq
	for i := range 4 {
		s := newSeq(sc, uint64(10+i), withPrefix(prefix, uint64(10+i), 30), 8)
		reqs = append(reqs, s)
		sc.add(s)
	}
	step := sc.schedule()
	checkInvariants(t, sc, step)
	// Each request spans cdiv(542, 16) = 34 blocks, 32 of them the prefix.
	if want := 32 + 4*2; sc.used != want {
		t.Errorf("4 requests sharing 32 blocks use %d blocks, want %d", sc.used, want)
	}
	for _, s := range reqs {
		if s.blocks != 34 {
			t.Errorf("request %d holds %d blocks, want 34 (shared ones included)", s.id, s.blocks)
		}
	}
	drain(t, sc, costModel{})
	if sc.used != 0 || sc.evictable == 0 {
		t.Errorf("after the run: %d blocks used, %d free cached", sc.used, sc.evictable)
	}
}

// Free cached blocks are evicted only when no uncached free block is left,
// least recently freed first, and a request's tail before its head.
func TestCachedBlocksAreEvictedLRUUnderPressure(t *testing.T) {
	sc := newScheduler(cachingConfig(21)) // 20 usable blocks
	a, b, c := tokens(1, 65), tokens(2, 65), tokens(3, 65)
	for i, ids := range [][]int{a, b, c} {
		serveOne(t, sc, newSeq(sc, uint64(i), ids, 1)) // 5 blocks each, 4 of them full
	}
	if sc.evictable != 12 {
		t.Fatalf("%d free cached blocks after three 4-block prompts, want 12", sc.evictable)
	}
	// 8 uncached free blocks are left; a 161-token prompt needs 11, so
	// three cached blocks go: the least recently freed, a's last three.
	d := tokens(4, 161)
	serveOne(t, sc, newSeq(sc, 4, d, 1))
	for _, tc := range []struct {
		name string
		ids  []int
		hit  int
	}{{"a", a, 16}, {"b", b, 64}, {"c", c, 64}, {"d", d, 160}} {
		if got := hitOf(sc, tc.ids); got != tc.hit {
			t.Errorf("after the pressure, prompt %s hits %d tokens, want %d", tc.name, got, tc.hit)
		}
	}
}

func TestNoReuseWithoutPrefixCaching(t *testing.T) {
	cfg := cachingConfig(100)
	cfg.prefixCaching = false
	sc := newScheduler(cfg)
	ids := tokens(1, 100)
	serveOne(t, sc, newSeq(sc, 1, ids, 4))
	if got := serveOne(t, sc, newSeq(sc, 2, ids, 4)); got != 0 {
		t.Errorf("with --no-enable-prefix-caching a repeated prompt hit %d tokens", got)
	}
	if sc.queries != 0 || sc.hits != 0 || sc.evictable != 0 {
		t.Errorf("with --no-enable-prefix-caching: queries %d, hits %d, %d cached blocks", sc.queries, sc.hits, sc.evictable)
	}
}

// A preempted request resumes on its own cached blocks; vLLM does not count
// the resumption in the exported queries and hits.
func TestPreemptedRequestResumesFromTheCache(t *testing.T) {
	sc := newScheduler(schedConfig{numBlocks: 21, blockSize: 16, maxNumSeqs: 8, maxNumBatchedTokens: 2048, prefixCaching: true})
	first := newSeq(sc, 1, tokens(1, 100), 120) // grows to 14 blocks
	second := newSeq(sc, 2, tokens(2, 100), 120)
	sc.add(first)
	sc.add(second)
	drain(t, sc, costModel{})
	if second.preempted == 0 {
		t.Fatal("no preemption: the test needs a pool two requests outgrow")
	}
	if sc.queries != 200 {
		t.Errorf("queries %d, want 200 (first admissions only)", sc.queries)
	}
}

// ttft is the modelled time to the first token of a request for ids
// arriving at an idle engine.
func ttft(t *testing.T, sc *scheduler, cost costModel, ids []int) time.Duration {
	t.Helper()
	s := newSeq(sc, 99, ids, 2)
	sc.add(s)
	var total time.Duration
	for s.generated == 0 {
		step := sc.schedule()
		if len(step) == 0 {
			t.Fatal("the scheduler is stuck")
		}
		total += cost.stepCost(step)
		sc.complete(step)
	}
	drain(t, sc, costModel{})
	return total
}

// Prefill time and so TTFT count only the uncached tokens; the benefit
// grows with the shared prefix (Phi-3-mini on an H100, modelled time).
func TestCachedPrefixLowersTTFT(t *testing.T) {
	st := setupFor(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096")
	var saved []time.Duration
	for _, p := range []int{512, 2048} {
		prefix := tokens(5, p)
		times := map[bool]time.Duration{}
		for _, caching := range []bool{false, true} {
			cfg, cost := engineModel(st, false, caching)
			sc := newScheduler(cfg)
			serveOne(t, sc, newSeq(sc, 1, withPrefix(prefix, 1, 64), 4))
			times[caching] = ttft(t, sc, cost, withPrefix(prefix, 2, 64))
		}
		t.Logf("prefix %d + 64 tokens: TTFT %v without the cache, %v with it", p, times[false], times[true])
		if times[true] >= times[false] {
			t.Errorf("prefix %d: TTFT %v with a cached prefix, not below %v without", p, times[true], times[false])
		}
		saved = append(saved, times[false]-times[true])
	}
	if saved[1] <= saved[0] {
		t.Errorf("TTFT saved by a cached prefix: %v at 512 tokens, %v at 2048; want it to grow", saved[0], saved[1])
	}
}

// A sliding-window model hits a prefix longer than its window even after
// the blocks that left the window were freed (they stay cached).
func TestSlidingWindowHitsAPrefixLongerThanTheWindow(t *testing.T) {
	cfg := cachingConfig(1000)
	cfg.window = 256
	sc := newScheduler(cfg)
	prefix := tokens(9, 640)
	serveOne(t, sc, newSeq(sc, 1, withPrefix(prefix, 1, 40), 50))
	if got := serveOne(t, sc, newSeq(sc, 2, withPrefix(prefix, 2, 40), 5)); got != 640 {
		t.Errorf("a 640-token prefix with a 256-token window hit %d tokens, want 640", got)
	}
}

func TestHitRateWindowKeepsTheRecentRequests(t *testing.T) {
	var w hitRateWindow
	w.observe(100, 100)
	for range hitRateRequests {
		w.observe(100, 50)
	}
	if got := w.rate(); got != 0.5 {
		t.Errorf("hit rate %v after the all-hit request left the window, want 0.5", got)
	}
	w.reset()
	if got := w.rate(); got != 0 {
		t.Errorf("hit rate %v after a reset, want 0", got)
	}
}

// vLLM's reset_prefix_cache fails while requests hold blocks.
func TestResetRefusedWhileRequestsHoldBlocks(t *testing.T) {
	sc := newScheduler(cachingConfig(100))
	ids := tokens(1, 100)
	serveOne(t, sc, newSeq(sc, 1, ids, 2))
	running := newSeq(sc, 2, tokens(2, 40), 50)
	sc.add(running)
	sc.complete(sc.schedule())
	if sc.resetPrefixCache() {
		t.Error("reset succeeded while a request holds blocks")
	}
	if hitOf(sc, ids) != 96 {
		t.Error("a refused reset emptied the cache")
	}
	drain(t, sc, costModel{})
	if !sc.resetPrefixCache() || hitOf(sc, ids) != 0 || sc.evictable != 0 {
		t.Errorf("reset of an idle engine: %d free cached blocks left", sc.evictable)
	}
}
