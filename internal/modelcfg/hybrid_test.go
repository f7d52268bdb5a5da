package modelcfg

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Predict sizes models whose layers mix sliding-window and full attention
// with vLLM's hybrid KV-cache layout (vllm/v1/core/kv_cache_utils.py),
// which the tests below compare it with:
//
//   - _get_kv_cache_groups_uniform_page_size: layers are bucketed by spec
//     (full / sliding window); group_size = the smallest bucket (or the
//     largest one when max < 1.25 × min); every bucket is cut into
//     cdiv(n, group_size) groups, the last one padded.
//   - get_kv_cache_config_from_groups: num_blocks = available //
//     page_size(one layer) // group_size; --num-gpu-blocks-override replaces
//     that number; group_size tensors of num_blocks × page each.
//   - _report_kv_cache_config: "GPU KV cache size" = num_blocks //
//     len(groups) × block_size; "Maximum concurrency" =
//     get_max_concurrency_for_kv_cache_config = num_blocks /
//     Σ_groups blocks_per_request(group spec).
//   - check_enough_kv_cache_memory: needed = Σ_layers
//     spec.max_memory_usage_bytes, exact bytes, fails only when needed >
//     available.

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

// hybridConfig is a config.json with layers layers of which those at
// (i+1)%every == 0 are full attention, the rest sliding (window tokens).
func hybridConfig(layers, every, heads, kvHeads, headDim, hidden, window int) []byte {
	types := make([]string, layers)
	for i := range types {
		if (i+1)%every == 0 {
			types[i] = `"full_attention"`
		} else {
			types[i] = `"sliding_attention"`
		}
	}
	return []byte(fmt.Sprintf(`{
  "model_type": "gemma3_text",
  "num_hidden_layers": %d,
  "num_attention_heads": %d,
  "num_key_value_heads": %d,
  "head_dim": %d,
  "hidden_size": %d,
  "intermediate_size": 21504,
  "vocab_size": 262208,
  "max_position_embeddings": 131072,
  "sliding_window": %d,
  "layer_types": [%s],
  "torch_dtype": "bfloat16"
}`, layers, heads, kvHeads, headDim, hidden, window, strings.Join(types, ", ")))
}

func cdivI(a, b int64) int64 { return (a + b - 1) / b }

// A model whose layers alternate sliding-window and full attention (HF's
// layer_types) keeps a full L-token KV cache in every full-attention layer:
// vLLM checks one request as Σ_layers spec.max_memory_usage_bytes,
// cdiv(L, block) × page for each full layer and
// (cdiv(min(W−1+mnbt, L), block)+1) × page for each sliding layer
// (kv_cache_interface.py), so the request is never sized as if the whole
// model were sliding-window.
func TestPredictHybridFullLayersKeepWholeContext(t *testing.T) {
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

// gpt-oss-like (12 full + 12 sliding, group_size 12, 2 groups), L = 4096,
// mnbt 8192, a 10 GiB pool. vLLM: page (one layer, 16 tokens) = 16 × 2 × 8 ×
// 64 × 2 = 32 KiB; num_blocks = 10 GiB // 32 KiB // 12 = 27306; one request
// = cdiv(4096,16) + cdiv(min(127+8192, 4096),16)+1 = 256 + 257 = 513 blocks;
// "Maximum concurrency for 4,096 tokens per request: 53.23x". Predict logs
// the same, with no per-request rounding to all-layer blocks.
func TestPredictHybridMaxConcurrencyIsVLLMs(t *testing.T) {
	cfg, err := Parse(gptOSSLikeConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Predict(cfg, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096,
		MaxNumBatchedTokens: 8192, MaxNumSeqs: 256, KVCacheMemoryBytes: 10 * GiB})
	if err != nil {
		t.Fatal(err)
	}
	page := int64(16 * 2 * 8 * 64 * 2)
	numBlocks := int64(10*GiB) / page / 12
	perReq := cdivI(4096, 16) + cdivI(min(127+8192, 4096), 16) + 1
	want := math.Round(float64(numBlocks)/float64(perReq)*100) / 100
	if p.EngineConcurrency != want {
		t.Errorf("hybrid gpt-oss-like model, L=4096: logged Maximum concurrency %.2fx, vLLM logs %.2fx (%d group blocks / %d per request)",
			p.EngineConcurrency, want, numBlocks, perReq)
	}
}

// vLLM checks one request against the pool in exact bytes summed over
// layers (check_enough_kv_cache_memory: needed = 12 × 256 pages + 12 × 257
// pages) and starts when needed <= available; so does Predict: a pool of
// exactly what vLLM needs fits.
func TestPredictHybridFitCheckIsExactPerLayerSum(t *testing.T) {
	cfg, err := Parse(gptOSSLikeConfig())
	if err != nil {
		t.Fatal(err)
	}
	page := int64(16 * 2 * 8 * 64 * 2)
	// 12 full layers × cdiv(4096,16) pages + 12 sliding × (cdiv(min(127+8192, 4096),16)+1).
	needed := 12*256*page + 12*257*page
	p, err := Predict(cfg, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096,
		MaxNumBatchedTokens: 8192, MaxNumSeqs: 256, KVCacheMemoryBytes: needed})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Fits {
		t.Errorf("pool = vLLM's needed %d bytes exactly: Predict says %q (RequestKVBytes %d); vLLM starts (needed <= available)",
			needed, p.Failure, p.RequestKVBytes)
	}
	if p.EstimatedMaxModelLen != 4096 {
		t.Errorf("EstimatedMaxModelLen %d, want 4096", p.EstimatedMaxModelLen)
	}
}

// --num-gpu-blocks-override N on a hybrid model gives vLLM N blocks of one
// *group* (group_size layers), shared by the 2 groups: "GPU KV cache size"
// = N // 2 × 16 tokens, concurrency N / 513, and N × 12 pages allocated.
// Predict (and so the simulator's scheduler pool) takes N the same way, not
// as blocks of all 24 layers.
func TestPredictHybridBlocksOverrideIsGroupBlocks(t *testing.T) {
	cfg, err := Parse(gptOSSLikeConfig())
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	p, err := Predict(cfg, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096,
		MaxNumBatchedTokens: 8192, MaxNumSeqs: 256, KVCacheMemoryBytes: 10 * GiB, NumGPUBlocksOverride: n})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(n / 2 * 16); p.KVTokens != want {
		t.Errorf("override %d on a 2-group hybrid model: GPU KV cache size %d tokens, vLLM logs %d", n, p.KVTokens, want)
	}
	if want := math.Round(float64(n)/513*100) / 100; p.EngineConcurrency != want {
		t.Errorf("override %d: Maximum concurrency %.2fx, vLLM logs %.2fx", n, p.EngineConcurrency, want)
	}
	page := int64(16 * 2 * 8 * 64 * 2)
	if got, want := p.ExpectedUsedBytes-p.NonKVBytes-CUDAContextBytes, int64(n)*12*page; got != want {
		t.Errorf("override %d: KV memory allocated %d bytes, vLLM allocates %d (12 tensors of %d blocks × one-layer page)", n, got, want, n)
	}
}

// Gemma-3-27B shape: 62 layers, 10 full (every 6th) + 52 sliding (1024).
// vLLM: group_size 10 → 1 full group + 6 sliding groups (the last padded
// with 8 layers): num_blocks = avail // page // 10; "GPU KV cache size" =
// num_blocks // 7 × 16; one 8192-token request = 512 + 6 × 513 group
// blocks. Predict counts the padding too, so its tokens and concurrency
// are vLLM's.
func TestPredictHybridPaddedGroupsKVTokens(t *testing.T) {
	cfg, err := Parse(hybridConfig(62, 6, 32, 16, 128, 5376, 1024))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FullAttentionLayers != 10 {
		t.Fatalf("FullAttentionLayers %d, want 10", cfg.FullAttentionLayers)
	}
	p, err := Predict(cfg, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192,
		MaxNumBatchedTokens: 8192, MaxNumSeqs: 256, KVCacheMemoryBytes: 20 * GiB})
	if err != nil {
		t.Fatal(err)
	}
	page := int64(16 * 2 * 16 * 128 * 2)
	numBlocks := int64(20*GiB) / page / 10
	if want := numBlocks / 7 * 16; p.KVTokens != want {
		t.Errorf("Gemma-3-27B-like hybrid: GPU KV cache size %d tokens, vLLM logs %d (num_blocks %d // 7 groups × 16)", p.KVTokens, want, numBlocks)
	}
	perReq := int64(512 + 6*(cdivI(min(1023+8192, 8192), 16)+1))
	if want := math.Round(float64(numBlocks)/float64(perReq)*100) / 100; p.EngineConcurrency != want {
		t.Errorf("Gemma-3-27B-like hybrid: Maximum concurrency %.2fx, vLLM logs %.2fx", p.EngineConcurrency, want)
	}
}

// Gemma-3 and Gemma-2 checkpoints on the Hub carry no "layer_types": Gemma-3
// has "sliding_window_pattern": 6 (layers with (i+1) % 6 == 0 are full
// attention), Gemma-2 alternates (odd layers full) implicitly. transformers
// builds layer_types from that and vLLM sizes them as hybrid, so Parse
// counts their full-attention layers the same way.
func TestParseGemmaWithoutLayerTypesIsHybrid(t *testing.T) {
	gemma3 := []byte(`{
  "architectures": ["Gemma3ForCausalLM"],
  "model_type": "gemma3_text",
  "head_dim": 256,
  "hidden_size": 1152,
  "intermediate_size": 6912,
  "max_position_embeddings": 32768,
  "num_attention_heads": 4,
  "num_hidden_layers": 26,
  "num_key_value_heads": 1,
  "query_pre_attn_scalar": 256,
  "sliding_window": 512,
  "sliding_window_pattern": 6,
  "torch_dtype": "bfloat16",
  "vocab_size": 262144
}`)
	c, err := Parse(gemma3)
	if err != nil {
		t.Fatal(err)
	}
	if c.SlidingWindow != 512 || c.FullAttentionLayers != 4 {
		t.Errorf("gemma-3-1b-it: SlidingWindow %d, FullAttentionLayers %d; want 512 and 4 (layers 5, 11, 17, 23 are full attention)",
			c.SlidingWindow, c.FullAttentionLayers)
	}
	gemma2 := []byte(`{
  "architectures": ["Gemma2ForCausalLM"],
  "model_type": "gemma2",
  "cache_implementation": "hybrid",
  "head_dim": 256,
  "hidden_size": 2304,
  "intermediate_size": 9216,
  "max_position_embeddings": 8192,
  "num_attention_heads": 8,
  "num_hidden_layers": 26,
  "num_key_value_heads": 4,
  "sliding_window": 4096,
  "torch_dtype": "float32",
  "vocab_size": 256000
}`)
	c, err = Parse(gemma2)
	if err != nil {
		t.Fatal(err)
	}
	if c.SlidingWindow != 4096 || c.FullAttentionLayers != 13 {
		t.Errorf("gemma-2-2b: SlidingWindow %d, FullAttentionLayers %d; want 4096 and 13 (every other layer is full attention)",
			c.SlidingWindow, c.FullAttentionLayers)
	}
}
