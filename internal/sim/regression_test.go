package sim

import "testing"

// Regression (found in review, fixed): vLLM V1's BlockPool takes one "null" block out of num_gpu_blocks, so only
// num_gpu_blocks-1 blocks can hold KV, and get_usage divides by
// num_gpu_blocks-1 (kv-cache-facts.md §1.1.6; vllm/v1/core/block_pool.py).
// The simulator's scheduler lets requests use every block.
func TestNullBlockReserved(t *testing.T) {
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
