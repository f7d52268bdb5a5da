package modelcfg

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Review 4: with an explicit --dtype float32, vLLM's "auto" KV-cache dtype is
// the model dtype, float32, so the KV cache takes 4 bytes per element
// (vllm/utils/torch_utils.py get_kv_cache_torch_dtype: cache_dtype "auto" →
// model_config.dtype; kv-cache-facts.md §4 "auto = torch_dtype").
// Predict sets kvModel.TorchDType = "float32" and then resolves "auto"
// through ModelDType(kvModel, "auto"), whose float32 → bfloat16 rule (meant
// only for a float32 *checkpoint* under --dtype auto) turns the KV cache into
// 2 bytes: weights and activations are priced at 4 bytes but the KV cache at 2,
// so the pool's token count is doubled.
func TestReview4Float32DTypeKeepsFloat32KVCache(t *testing.T) {
	llama := mustPreset(t, "meta-llama/Llama-3.1-8B-Instruct")
	p, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, DType: "float32"})
	if err != nil {
		t.Fatal(err)
	}
	// 2 (K,V) × 32 layers × 8 kv heads × 128 head_dim × 4 bytes.
	const want = 2 * 32 * 8 * 128 * 4
	if p.DType != "float32" {
		t.Fatalf("resolved dtype %q, want float32", p.DType)
	}
	if p.KVBytesPerToken != want {
		t.Errorf("--dtype float32, --kv-cache-dtype auto: KVBytesPerToken = %d, want %d (auto KV cache = model dtype float32, 4 B/elem)", p.KVBytesPerToken, want)
	}
}

// gptOSSLikeConfig is a gpt-oss-20b-shaped config.json: 24 layers that
// alternate sliding-window (128 tokens) and full attention, declared through
// HF's "layer_types" (gpt-oss, Gemma-2/3, OLMo-3 and Qwen2/3 configs carry it).
func gptOSSLikeConfig() []byte {
	types := make([]string, 24)
	for i := range types {
		if i%2 == 0 {
			types[i] = `"sliding_attention"`
		} else {
			types[i] = `"full_attention"`
		}
	}
	return []byte(fmt.Sprintf(`{
  "model_type": "gpt_oss",
  "num_hidden_layers": 24,
  "num_attention_heads": 64,
  "num_key_value_heads": 8,
  "head_dim": 64,
  "hidden_size": 2880,
  "intermediate_size": 2880,
  "vocab_size": 201088,
  "max_position_embeddings": 131072,
  "sliding_window": 128,
  "layer_types": [%s],
  "num_local_experts": 32,
  "torch_dtype": "bfloat16"
}`, strings.Join(types, ", ")))
}

// Review 4: a model whose layers alternate sliding-window and full
// attention (layer_types) keeps a *full* L-token KV cache in every
// full-attention layer. vLLM groups the layers by spec (FullAttentionSpec vs
// SlidingWindowSpec, kv_cache_utils.py get_kv_cache_groups /
// _get_kv_cache_groups_uniform_page_size) and checks one request as
// Σ_layers spec.max_memory_usage_bytes: cdiv(L, block) × page for each full
// layer, (cdiv(min(W−1+mnbt, L), block)+1) × page for each SWA layer
// (kv_cache_interface.py; kv-cache-facts.md §4 "per-request KV ≈ full_layers ×
// per_layer × L + swa_layers × per_layer × min(window+…, L)").
// Parse ignores layer_types and marks the whole model as sliding-window
// (config.go: SlidingWindow = sliding_window), so Predict sizes one 131072-token
// request of this model at 0.38 GiB instead of 3.19 GiB: it predicts starts,
// concurrency and a scheduler pool that vLLM would not have.
func TestReview4LayerTypesFullLayersKeepWholeContext(t *testing.T) {
	cfg, err := Parse(gptOSSLikeConfig())
	if err != nil {
		t.Fatal(err)
	}
	const L = 131072
	p, err := Predict(cfg, PredictInput{
		TotalMemoryBytes: h100, MaxModelLen: L, MaxNumBatchedTokens: 8192, MaxNumSeqs: 256,
		KVCacheMemoryBytes: 20 * GiB,
	})
	if err != nil {
		t.Fatal(err)
	}
	perLayerToken := int64(2 * 8 * 64 * 2) // K+V × kv heads × head_dim × bf16
	fullOnly := int64(12) * L * perLayerToken
	// vLLM: 12 full layers × 8192 blocks + 12 SWA layers × (cdiv(127+8192,16)+1 = 521) blocks, × 16-token pages.
	want := int64(12*8192+12*521) * 16 * perLayerToken
	if p.RequestKVBytes < fullOnly {
		t.Errorf("one %d-token request needs %.2f GiB of KV per Predict; its 12 full-attention layers alone hold %.2f GiB (vLLM's check: %.2f GiB)",
			L, float64(p.RequestKVBytes)/float64(GiB), float64(fullOnly)/float64(GiB), float64(want)/float64(GiB))
	}
}

// Review 4: vLLM raises "No available memory for the cache blocks" only
// when available_memory <= 0; a positive pool smaller than the one request
// needs (even smaller than one block) gets the "To serve at least one
// request with the model's max seq len" ValueError, without the "Based on
// the available memory" sentence when the estimate is 0
// (vllm/v1/core/kv_cache_utils.py _check_enough_kv_cache_memory;
// kv-cache-facts.md §1.3). Predict reports ErrNoCacheMemory whenever
// floor(pool / block) is 0, so enginelog.FailureReason and the run record
// blame "no memory after weights" for what vLLM calls a too-long max_model_len.
func TestReview4SubBlockPoolIsDoesNotFit(t *testing.T) {
	phi := mustPreset(t, "microsoft/Phi-3-mini-4k-instruct")
	base, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, KVCacheMemoryBytes: base.BlockBytes / 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Fits {
		t.Fatal("half a block fits a 4096-token request?")
	}
	if !errors.Is(p.Err(), ErrDoesNotFit) {
		t.Errorf("pool of %d bytes (> 0, < one block): error %q; vLLM raises the \"To serve at least one request\" ValueError (No available memory only for a pool <= 0)", p.KVPoolBytes, p.Failure)
	}
}
