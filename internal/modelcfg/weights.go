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
	// DoubleQuant: bitsandbytes 4-bit statistics are themselves quantized
	// (one 8-bit absmax per 64 weights plus an fp32 scale per 256 of them):
	// a checkpoint's bnb_4bit_use_double_quant, and always when vLLM
	// quantizes on load (quantize_4bit(compress_statistics=True)). Engines
	// with EngineProfile.BnBDequantizesStatistics expand them to fp32 at
	// load, so Predict clears it there.
	DoubleQuant bool `json:"double_quant,omitempty"`
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
		// on a checkpoint without quantization_config vLLM quantizes on load, with double quantization
		return Quantization{Method: "bitsandbytes", Bits: 4, DoubleQuant: true}, nil
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
		DoubleQuant  bool   `json:"bnb_4bit_use_double_quant"`
		LoadIn8bit   bool   `json:"load_in_8bit"`
		ConfigGroups map[string]struct {
			Weights struct {
				NumBits   int    `json:"num_bits"`
				GroupSize *int   `json:"group_size"`
				Strategy  string `json:"strategy"`
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
		q.Method, q.Bits, q.DoubleQuant = "bitsandbytes", 4, qc.DoubleQuant
		if qc.LoadIn8bit {
			q.Bits, q.DoubleQuant = 8, false
		}
	case "compressed-tensors":
		for _, g := range qc.ConfigGroups {
			w := g.Weights
			q.Bits = w.NumBits
			switch {
			case w.GroupSize != nil:
				q.GroupSize = *w.GroupSize
			case w.Strategy == "channel":
				q.GroupSize = -1 // one scale per output row, as GPTQ's group_size -1
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
// bitsandbytes 4-bit 0.5 + 4/64 (an fp32 absmax per 64 values), or with
// double quantization 0.5 + 1/64 + 4/(64·256). modelBytes is the
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
		if q.DoubleQuant {
			return 0.5 + 1.0/64 + 4.0/(64*256)
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

// mxfp4Layout is how vLLM's Mxfp4MoEMethod stores the MoE experts of an
// MXFP4 checkpoint on one GPU (vllm/model_executor/layers/quantization/mxfp4.py,
// create_weights and process_weights_after_loading, present since gpt-oss
// support in v0.10.1): each backend pads the per-rank intermediate size and
// the hidden size to its own alignment, and the Triton backend keeps the
// checkpoint's e8m0 scales registered next to the swizzled copy it hands the
// kernel (only the weights are deleted) and promotes the expert biases to
// float32.
type mxfp4Layout struct {
	backend                        string
	intermediateAlign, hiddenAlign int64
	scaleCopies                    int64 // 2 when the unswizzled scales stay resident
	biasBytes                      int64 // per expert-bias element
}

// mxfp4LayoutFor picks the backend vLLM's get_mxfp4_backend picks for a GPU:
// Triton kernels on Hopper (SM90; intermediate padded to 64), FlashInfer
// TRT-LLM on Blackwell (SM100; both padded to 256), Triton with 128
// alignment on ROCm, and Marlin elsewhere (Ampere, Ada, unknown GPUs:
// "n % 256 == 0 and k % 128 == 0", so intermediate padded to 128 and hidden
// to 256).
func mxfp4LayoutFor(gpuName string) mxfp4Layout {
	g := strings.ToUpper(gpuName)
	switch {
	case strings.Contains(g, "H100"), strings.Contains(g, "H200"), strings.Contains(g, "H800"), strings.HasPrefix(g, "H20"), strings.Contains(g, "GH200"):
		return mxfp4Layout{backend: "triton", intermediateAlign: 64, hiddenAlign: 1, scaleCopies: 2, biasBytes: 4}
	case strings.Contains(g, "B200"), strings.Contains(g, "B100"), strings.Contains(g, "B300"):
		return mxfp4Layout{backend: "flashinfer", intermediateAlign: 256, hiddenAlign: 256, scaleCopies: 1, biasBytes: 4}
	case strings.Contains(g, "MI300"), strings.Contains(g, "MI325"), strings.Contains(g, "MI355"):
		return mxfp4Layout{backend: "triton-rocm", intermediateAlign: 128, hiddenAlign: 128, scaleCopies: 1, biasBytes: 4}
	}
	return mxfp4Layout{backend: "marlin", intermediateAlign: 128, hiddenAlign: 256, scaleCopies: 1, biasBytes: 2}
}

// expertBytes is one rank's MXFP4 expert memory for one MoE layer: gate_up
// and down weights at 4 bits, one e8m0 scale per 32 weights (times
// scaleCopies) and the w13/w2 biases create_weights always allocates.
func (l mxfp4Layout) expertBytes(experts, hidden, intermediate int64, tp int64) int64 {
	i := cdiv(cdiv(intermediate, tp), l.intermediateAlign) * l.intermediateAlign
	h := cdiv(hidden, l.hiddenAlign) * l.hiddenAlign
	weights := experts * 3 * i * h
	return weights/2 + l.scaleCopies*weights/32 + experts*(2*i+h)*l.biasBytes
}

// RankWeightBytes is the weight memory of one tensor-parallel rank (vLLM's
// "Model loading took"): linear layers split by tp and stored in q's format;
// k/v projections hold max(1, kv_heads/tp) heads per rank (replicated below
// one head per rank); the embedding and an untied lm_head are split by
// vocabulary (padded to 64 rows per rank at tp > 1) and stay 16-bit; norms,
// biases and MoE router gates are replicated. MXFP4 experts take the layout
// of the backend vLLM picks on gpuName (mxfp4LayoutFor). With tp 1 and no
// quantization it is ParamCount × the dtype's bytes. cfg.NumParameters,
// when set, is scaled as a whole.
func RankWeightBytes(cfg Config, dtype string, q Quantization, tp int, gpuName string) int64 {
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
	experts := int64(float64(s.experts/t) * per)
	if q.Method == "mxfp4" && cfg.NumExperts > 0 {
		per = float64(elem) // mxfp4 checkpoints keep attention, dense and shared-expert layers 16-bit
		mi := int64(cfg.MoEIntermediate)
		if mi == 0 {
			mi = int64(cfg.IntermediateSize)
		}
		moeLayers := int64(max(cfg.NumHiddenLayers-cfg.FirstKDenseReplace, 0))
		layout := mxfp4LayoutFor(gpuName)
		experts = moeLayers*layout.expertBytes(int64(cfg.NumExperts), h, mi, t) +
			moeLayers*int64(cfg.NumSharedExperts)*3*h*mi/t*int64(elem)
	}
	linear := int64(float64(s.linear/t+kv)*per) + experts
	return embed + linear + s.replicated*int64(elem)
}
