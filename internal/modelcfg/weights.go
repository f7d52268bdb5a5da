package modelcfg

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Quantization is a checkpoint's weight format, from config.json's
// quantization_config or --quantization.
type Quantization struct {
	// Method is canonical: "" (unquantized), "awq", "gptq", "fp8",
	// "bitsandbytes", "mxfp4" (MoE experts only, as gpt-oss ships).
	Method string `json:"method,omitempty"`
	// Bits of an integer format (4 or 8); 0 means the method's default.
	Bits int `json:"bits,omitempty"`
	// GroupSize is the number of weights sharing one scale (AWQ/GPTQ); 0 → 128,
	// −1 → one scale per output channel.
	GroupSize int `json:"group_size,omitempty"`
}

// ParseQuantization canonicalises a --quantization value (vLLM's kernels
// awq_marlin / gptq_marlin are the same formats on disk).
func ParseQuantization(s string) (Quantization, error) {
	switch m := strings.ToLower(strings.TrimSpace(s)); m {
	case "", "none":
		return Quantization{}, nil
	case "awq", "awq_marlin":
		return Quantization{Method: "awq", Bits: 4}, nil
	case "gptq", "gptq_marlin":
		return Quantization{Method: "gptq", Bits: 4}, nil
	case "fp8", "fbgemm_fp8", "modelopt":
		return Quantization{Method: "fp8", Bits: 8}, nil
	case "bitsandbytes", "bnb":
		return Quantization{Method: "bitsandbytes", Bits: 4}, nil
	case "mxfp4":
		return Quantization{Method: "mxfp4", Bits: 4}, nil
	default:
		return Quantization{}, fmt.Errorf("modelcfg: unknown quantization %q (want awq, gptq, fp8, bitsandbytes or mxfp4)", s)
	}
}

// parseQuantizationConfig reads config.json's quantization_config, including
// compressed-tensors' config_groups (weights.num_bits, group_size, type).
func parseQuantizationConfig(raw json.RawMessage) Quantization {
	if len(raw) == 0 || string(raw) == "null" {
		return Quantization{}
	}
	var qc struct {
		QuantMethod  string `json:"quant_method"`
		Bits         int    `json:"bits"`
		WBit         int    `json:"w_bit"`
		GroupSize    *int   `json:"group_size"`
		QGroupSize   *int   `json:"q_group_size"`
		LoadIn4bit   bool   `json:"load_in_4bit"`
		LoadIn8bit   bool   `json:"load_in_8bit"`
		ConfigGroups map[string]struct {
			Weights struct {
				NumBits   int    `json:"num_bits"`
				GroupSize *int   `json:"group_size"`
				Type      string `json:"type"`
			} `json:"weights"`
		} `json:"config_groups"`
	}
	if json.Unmarshal(raw, &qc) != nil {
		return Quantization{}
	}
	q := Quantization{Bits: max(qc.Bits, qc.WBit)}
	if g := firstInt(qc.GroupSize, qc.QGroupSize); g != nil {
		q.GroupSize = *g
	}
	switch m := strings.ToLower(qc.QuantMethod); m {
	case "awq", "gptq":
		q.Method = m
	case "fp8", "fbgemm_fp8", "modelopt":
		q.Method, q.Bits = "fp8", 8
	case "mxfp4":
		q.Method, q.Bits = "mxfp4", 4
	case "bitsandbytes":
		q.Method, q.Bits = "bitsandbytes", 4
		if qc.LoadIn8bit {
			q.Bits = 8
		}
	case "compressed-tensors":
		for _, g := range qc.ConfigGroups {
			w := g.Weights
			q.Bits = w.NumBits
			if w.GroupSize != nil {
				q.GroupSize = *w.GroupSize
			}
			q.Method = "gptq" // int weights with group scales: GPTQ's layout (Marlin)
			if w.Type == "float" && w.NumBits == 8 {
				q.Method = "fp8"
			}
			break
		}
	}
	if q.Method == "" {
		return Quantization{}
	}
	return q
}

func firstInt(ps ...*int) *int {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// linearBytesPerWeight is the stored bytes per weight element of a quantized
// linear layer after loading (research §6): AWQ/GPTQ b-bit b/8 + 2.5/g
// (fp16 scales and packed zeros per group), fp8 1 (+ negligible scales),
// bitsandbytes 4-bit 0.5 + 4/64 (absmax per 64 values). modelBytes is the
// unquantized element size.
func (q Quantization) linearBytesPerWeight(modelBytes int) float64 {
	switch q.Method {
	case "awq", "gptq":
		bits := q.Bits
		if bits == 0 {
			bits = 4
		}
		b := float64(bits) / 8
		switch g := q.GroupSize; {
		case g == 0:
			b += 2.5 / 128
		case g > 0:
			b += 2.5 / float64(g)
		}
		return b
	case "fp8":
		return 1
	case "mxfp4":
		return 0.5 + 1.0/32 // e2m1 values, one e8m0 scale per 32
	case "bitsandbytes":
		if q.Bits == 8 {
			return 1
		}
		return 0.5 + 4.0/64
	}
	return float64(modelBytes)
}

// paramSplit is ParamCount split by how tensor parallelism and quantization
// treat each part.
type paramSplit struct {
	embed, lmHead int64 // vocab × hidden each; lmHead 0 when tied
	linear        int64 // column/row-parallel weights split by TP (attention q/o, dense MLP)
	experts       int64 // MoE expert weights (and shared experts), split by TP
	kvLinear      int64 // k and v projection weights (replicated when kv heads < TP)
	replicated    int64 // norms, biases, router gates: neither split nor quantized
}

func splitParams(cfg Config) paramSplit {
	h := int64(cfg.HiddenSize)
	heads := int64(cfg.NumAttentionHeads)
	var s paramSplit
	s.embed = int64(cfg.VocabSize) * h
	if !cfg.TieWordEmbeddings {
		s.lmHead = s.embed
	}
	var attn, kv, attnOther int64
	if cfg.IsMLA() {
		nope, rope, v, kvr := int64(cfg.QKNopeHeadDim), int64(cfg.QKRopeHeadDim), int64(cfg.VHeadDim), int64(cfg.KVLoraRank)
		if ql := int64(cfg.QLoraRank); ql > 0 {
			attn += h*ql + ql*heads*(nope+rope)
			attnOther += ql
		} else {
			attn += h * heads * (nope + rope)
		}
		attn += h*(kvr+rope) + kvr*heads*(nope+v) + heads*v*h
		attnOther += kvr
	} else {
		hd, kvh := int64(cfg.HeadDim), int64(cfg.NumKeyValueHeads)
		attn = 2 * h * heads * hd
		kv = 2 * h * kvh * hd
		if cfg.AttentionBias {
			attnOther += heads*hd + 2*kvh*hd
			if !strings.HasPrefix(cfg.ModelType, "qwen2") {
				attnOther += h
			}
		}
	}
	dense := 3 * h * int64(cfg.IntermediateSize)
	var experts, gate int64
	if cfg.NumExperts > 0 {
		mi := int64(cfg.MoEIntermediate)
		if mi == 0 {
			mi = int64(cfg.IntermediateSize)
		}
		experts = int64(cfg.NumExperts+cfg.NumSharedExperts) * 3 * h * mi
		gate = int64(cfg.NumExperts) * h
	}
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		s.linear += attn
		s.kvLinear += kv
		s.replicated += attnOther + 2*h
		if cfg.NumExperts > 0 && l >= cfg.FirstKDenseReplace {
			s.experts += experts
			s.replicated += gate
		} else {
			s.linear += dense
		}
	}
	s.replicated += h // final norm
	return s
}

// RankWeightBytes is the weight memory of one tensor-parallel rank (vLLM's
// "Model loading took"): linear layers split by tp and stored in q's format;
// k/v projections hold max(1, kv_heads/tp) heads per rank (replicated below
// one head per rank); the embedding and an untied lm_head are split by
// vocabulary (padded to 64 rows per rank at tp > 1) and stay 16-bit; norms,
// biases and MoE router gates are replicated. With tp 1 and no quantization
// it is ParamCount × the dtype's bytes. cfg.NumParameters, when set, is
// scaled as a whole.
func RankWeightBytes(cfg Config, dtype string, q Quantization, tp int) int64 {
	d, err := ModelDType(cfg, dtype)
	if err != nil {
		return 0
	}
	elem := DTypeBytes(d)
	tp = max(tp, 1)
	if q.Method == "" && tp == 1 {
		return ParamCount(cfg) * int64(elem)
	}
	if cfg.NumParameters > 0 {
		return int64(float64(cfg.NumParameters) * q.linearBytesPerWeight(elem) / float64(tp))
	}
	s := splitParams(cfg)
	t := int64(tp)
	embedElem := int64(elem)
	if d == "fp8" {
		embedElem = 1
	}
	vocabRows := int64(cfg.VocabSize)
	if tp > 1 {
		vocabRows = cdiv(cdiv(vocabRows, 64)*64, t)
	}
	h := int64(cfg.HiddenSize)
	embed := vocabRows * h * embedElem
	if s.lmHead > 0 {
		embed *= 2
	}
	kv := s.kvLinear
	if !cfg.IsMLA() && cfg.NumKeyValueHeads > 0 {
		rankHeads := int64(max(1, cfg.NumKeyValueHeads/tp))
		kv = s.kvLinear / int64(cfg.NumKeyValueHeads) * rankHeads
	} else {
		kv /= t
	}
	per := q.linearBytesPerWeight(elem)
	expertsPer := per
	if q.Method == "mxfp4" {
		per = float64(elem) // mxfp4 checkpoints keep attention and dense layers 16-bit
	}
	linear := int64(float64(s.linear/t+kv)*per) + int64(float64(s.experts/t)*expertsPer)
	return embed + linear + s.replicated*int64(elem)
}
