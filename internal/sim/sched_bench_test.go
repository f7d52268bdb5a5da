package sim

import "testing"

// benchLoad runs 256 requests of 512 prompt and 64 output tokens through a
// scheduler with an H100-sized pool; with prompts, their blocks are hashed
// (generated ones too) and every prompt starts with the same 256 tokens.
func benchLoad(b *testing.B, cfg schedConfig, prompts [][]int) {
	for b.Loop() {
		sc := newScheduler(cfg)
		for i := range 256 {
			s := &seq{id: uint64(i), prompt: 512, target: 64}
			if prompts != nil {
				s.hashes = blockHashes(prompts[i], cfg.blockSize, "")
				s.out = newOutputChain(prompts[i], cfg.blockSize, "", s.hashes, func(i int) int { return i })
			}
			sc.add(s)
		}
		for step := sc.schedule(); len(step) > 0; step = sc.schedule() {
			sc.complete(step)
		}
	}
}

func BenchmarkSchedulerRun(b *testing.B) {
	cfg := schedConfig{numBlocks: 10900, blockSize: 16, maxNumSeqs: 1024, maxNumBatchedTokens: 8192}
	b.Run("no-prefix-caching", func(b *testing.B) { benchLoad(b, cfg, nil) })
	cfg.prefixCaching = true
	prefix := tokens(1, 256)
	prompts := make([][]int, 256)
	for i := range prompts {
		prompts[i] = withPrefix(prefix, uint64(i), 256)
	}
	b.Run("prefix-caching", func(b *testing.B) { benchLoad(b, cfg, prompts) })
}
