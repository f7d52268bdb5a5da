package sim

import (
	"math"
	"time"
)

// Roofline constants (see the package doc).
const (
	// memEfficiency is the share of peak HBM bandwidth a decode step
	// achieves (~77 % measured for vLLM single-stream decode on an A100).
	memEfficiency = 0.80
	// computeEfficiency is the share of the dense tensor peak a large
	// prefill step achieves.
	computeEfficiency = 0.50
	// stepOverhead is the fixed host-side cost of one engine step with CUDA
	// graphs (scheduling, input preparation, sampling, detokenising).
	stepOverhead = 1 * time.Millisecond
	// seqOverhead is the host-side cost per scheduled request and step
	// (input preparation, sampling bookkeeping, detokenising, streaming).
	seqOverhead = 30 * time.Microsecond
	// eagerLayerOverhead is added per layer and step with --enforce-eager
	// (kernel launches that CUDA graphs would have batched).
	eagerLayerOverhead = 40 * time.Microsecond
)

// costModel turns one engine step into modelled GPU time.
type costModel struct {
	weightBytes     float64 // bytes of weights read per step
	params          float64 // parameters (2 FLOPs each per token)
	kvBytesPerToken float64
	attnFLOPsPair   float64 // 2 × layers × heads × (qk_dim + v_dim): FLOPs per (query, key) pair
	window          int     // sliding window (tokens a query attends to), 0 = full
	bandwidth       float64 // effective bytes/s
	flops           float64 // effective FLOP/s
	overhead        time.Duration
}

// stepCost returns the modelled duration of a step:
//
//	bytes = weights + Σ (ctx + n) × kv_bytes_per_token
//	flops = 2 × params × Σ n + Σ attn_pair × (n × ctx + n(n+1)/2)
//	t     = max(bytes / (eff_mem × BW), flops / (eff_compute × peak)) + overhead + requests × seq_overhead
//
// where ctx is capped at the sliding window for windowed models.
func (c costModel) stepCost(step []work) time.Duration {
	if len(step) == 0 {
		return 0
	}
	bytes := c.weightBytes
	var tokens, pairs float64
	for _, w := range step {
		ctx, n := float64(w.ctx), float64(w.n)
		if c.window > 0 {
			ctx = min(ctx, float64(c.window-1))
		}
		bytes += (ctx + n) * c.kvBytesPerToken
		tokens += n
		pairs += n*ctx + n*(n+1)/2
	}
	flops := 2*c.params*tokens + c.attnFLOPsPair*pairs
	sec := math.Max(bytes/c.bandwidth, flops/c.flops)
	return time.Duration(sec*float64(time.Second)) + c.overhead + time.Duration(len(step))*seqOverhead
}
