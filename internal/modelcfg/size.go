package modelcfg

import (
	"fmt"
	"strings"
)

// FP8DSMLABytesPerLayer is the fixed per-token, per-layer KV size of vLLM's
// "fp8_ds_mla" cache dtype (DeepSeek-V3.2 sparse MLA).
const FP8DSMLABytesPerLayer = 656

// ModelDType resolves vLLM's --dtype for cfg: "" and "auto" mean the config's
// torch_dtype, except that float32 checkpoints are served in bfloat16 (vLLM's
// "auto" rule); a config without torch_dtype is taken as bfloat16. The result
// is a canonical name: "bfloat16", "float16", "float32", "fp8".
func ModelDType(cfg Config, dtype string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(dtype))
	if d == "" || d == "auto" {
		d = canonicalDType(cfg.TorchDType)
		if d == "" || d == "float32" {
			return "bfloat16", nil
		}
		return d, nil
	}
	if c := canonicalDType(d); c != "" {
		return c, nil
	}
	return "", fmt.Errorf("modelcfg: unknown dtype %q (want auto, bfloat16, float16, float32 or fp8)", dtype)
}

func canonicalDType(d string) string {
	switch strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "torch.")) {
	case "bfloat16", "bf16":
		return "bfloat16"
	case "float16", "fp16", "half":
		return "float16"
	case "float32", "fp32", "float":
		return "float32"
	case "fp8", "fp8_e4m3", "fp8_e5m2", "float8_e4m3fn", "float8_e5m2", "int8":
		return "fp8"
	}
	return ""
}

// DTypeBytes is the element size of a canonical or alias dtype name; 0 if unknown.
func DTypeBytes(dtype string) int {
	switch canonicalDType(dtype) {
	case "float32":
		return 4
	case "bfloat16", "float16":
		return 2
	case "fp8":
		return 1
	}
	return 0
}

// kvElemBytes resolves --kv-cache-dtype: "auto"/"" is the model dtype (as
// ModelDType resolves "auto"); fp8, fp8_e4m3, fp8_e5m2 and fp8_inc are 1 byte.
func kvElemBytes(cfg Config, kvDtype string) (int, error) {
	d := strings.ToLower(strings.TrimSpace(kvDtype))
	switch d {
	case "", "auto":
		md, err := ModelDType(cfg, "auto")
		if err != nil {
			return 0, err
		}
		return DTypeBytes(md), nil
	case "fp8_inc":
		return 1, nil
	case "fp8_ds_mla":
		if !cfg.IsMLA() {
			return 0, fmt.Errorf("modelcfg: kv cache dtype fp8_ds_mla needs an MLA model")
		}
		return 1, nil
	}
	if b := DTypeBytes(d); b > 0 {
		return b, nil
	}
	return 0, fmt.Errorf("modelcfg: unknown kv cache dtype %q (want auto, bfloat16, float16, fp8, fp8_e4m3, fp8_e5m2)", kvDtype)
}

// KVBytesPerToken is the KV-cache size of one token across all layers
// (kv-cache-facts.md §4), or 0 for an unknown kvDtype:
//
//	standard MHA/GQA: 2 (K and V) × num_hidden_layers × num_key_value_heads × head_dim × dtype_bytes
//	MLA:              num_hidden_layers × (kv_lora_rank + qk_rope_head_dim) × dtype_bytes (no ×2)
//	fp8_ds_mla:       num_hidden_layers × 656
//
// head_dim is the explicit config value when present, else hidden/heads;
// kvDtype "auto" (or "") is the model dtype, fp8* is one byte.
// Example: Phi-3-mini-4k, auto → 2×32×32×96×2 = 393,216 B (384 KiB).
func KVBytesPerToken(cfg Config, kvDtype string) int64 {
	b, err := kvElemBytes(cfg, kvDtype)
	if err != nil {
		return 0
	}
	return int64(cfg.NumHiddenLayers) * kvBytesPerTokenPerLayer(cfg, kvDtype, b)
}

// kvBytesPerTokenPerLayer is one layer's share of KVBytesPerToken.
func kvBytesPerTokenPerLayer(cfg Config, kvDtype string, elem int) int64 {
	if cfg.IsMLA() {
		if strings.EqualFold(strings.TrimSpace(kvDtype), "fp8_ds_mla") {
			return FP8DSMLABytesPerLayer
		}
		return int64(cfg.KVLoraRank+cfg.QKRopeHeadDim) * int64(elem)
	}
	return 2 * int64(cfg.NumKeyValueHeads) * int64(cfg.HeadDim) * int64(elem)
}

// ParamCount estimates the parameter count of a decoder-only transformer from
// its config (or returns cfg.NumParameters when set). It assumes a gated
// (SwiGLU) MLP, RMSNorm weights without bias, untied lm_head unless
// tie_word_embeddings, q/k/v biases when AttentionBias (plus an o_proj bias
// for non-Qwen models), MLA projections when kv_lora_rank is set and
// DeepSeek/Mixtral-style experts when NumExperts is set. It is exact for the
// presets: Phi-3-mini 3,821,079,552; Qwen2.5-0.5B 494,032,768; Qwen2.5-1.5B
// 1,543,714,304; Llama-3.1-8B 8,030,261,248 (llama.cpp reports 64 more: the
// GGUF's rope_freqs tensor).
func ParamCount(cfg Config) int64 {
	if cfg.NumParameters > 0 {
		return cfg.NumParameters
	}
	h := int64(cfg.HiddenSize)
	heads := int64(cfg.NumAttentionHeads)
	embed := int64(cfg.VocabSize) * h
	total := embed
	if !cfg.TieWordEmbeddings {
		total += embed
	}
	var attn int64
	if cfg.IsMLA() {
		nope, rope, v, kvr := int64(cfg.QKNopeHeadDim), int64(cfg.QKRopeHeadDim), int64(cfg.VHeadDim), int64(cfg.KVLoraRank)
		if ql := int64(cfg.QLoraRank); ql > 0 {
			attn += h*ql + ql + ql*heads*(nope+rope)
		} else {
			attn += h * heads * (nope + rope)
		}
		attn += h*(kvr+rope) + kvr + kvr*heads*(nope+v) + heads*v*h
	} else {
		hd, kvh := int64(cfg.HeadDim), int64(cfg.NumKeyValueHeads)
		attn = 2*h*heads*hd + 2*h*kvh*hd
		if cfg.AttentionBias {
			attn += heads*hd + 2*kvh*hd
			if !strings.HasPrefix(cfg.ModelType, "qwen2") {
				attn += h
			}
		}
	}
	dense := 3 * h * int64(cfg.IntermediateSize)
	moe := dense
	if cfg.NumExperts > 0 {
		mi := int64(cfg.MoEIntermediate)
		if mi == 0 {
			mi = int64(cfg.IntermediateSize)
		}
		moe = int64(cfg.NumExperts+cfg.NumSharedExperts)*3*h*mi + int64(cfg.NumExperts)*h
	}
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		total += attn + 2*h
		if cfg.NumExperts > 0 && l >= cfg.FirstKDenseReplace {
			total += moe
		} else {
			total += dense
		}
	}
	return total + h // final norm
}

// WeightBytes is ParamCount × the element size of the resolved model dtype
// (dtype "auto" follows ModelDType), or 0 for an unknown dtype.
// Phi-3-mini in bfloat16: 7,642,159,104 B (7.12 GiB).
func WeightBytes(cfg Config, dtype string) int64 {
	d, err := ModelDType(cfg, dtype)
	if err != nil {
		return 0
	}
	return ParamCount(cfg) * int64(DTypeBytes(d))
}
