package modelcfg

import (
	"sort"
	"strings"
)

// presets are the built-in configs, keyed by their Hugging Face id. Values are
// those of each model's config.json (kv-cache-facts.md §4.1).
var presets = map[string]Config{
	"microsoft/Phi-3-mini-4k-instruct": {
		ModelType: "phi3", NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 32,
		HiddenSize: 3072, HeadDim: 96, IntermediateSize: 8192, VocabSize: 32064,
		MaxPositionEmbeddings: 4096, TorchDType: "bfloat16", TieWordEmbeddings: false,
		SlidingWindow: 2047,
	},
	"Qwen/Qwen2.5-0.5B-Instruct": {
		ModelType: "qwen2", NumHiddenLayers: 24, NumAttentionHeads: 14, NumKeyValueHeads: 2,
		HiddenSize: 896, HeadDim: 64, IntermediateSize: 4864, VocabSize: 151936,
		MaxPositionEmbeddings: 32768, TorchDType: "bfloat16", TieWordEmbeddings: true,
		AttentionBias: true, // use_sliding_window: false, so no window
	},
	"Qwen/Qwen2.5-1.5B-Instruct": {
		ModelType: "qwen2", NumHiddenLayers: 28, NumAttentionHeads: 12, NumKeyValueHeads: 2,
		HiddenSize: 1536, HeadDim: 128, IntermediateSize: 8960, VocabSize: 151936,
		MaxPositionEmbeddings: 32768, TorchDType: "bfloat16", TieWordEmbeddings: true,
		AttentionBias: true,
	},
	"meta-llama/Llama-3.1-8B-Instruct": {
		ModelType: "llama", NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 8,
		HiddenSize: 4096, HeadDim: 128, IntermediateSize: 14336, VocabSize: 128256,
		MaxPositionEmbeddings: 131072, TorchDType: "bfloat16", TieWordEmbeddings: false,
	},
	// An MLA + MoE example, for the MLA KV formula.
	"deepseek-ai/DeepSeek-V2-Lite": {
		ModelType: "deepseek_v2", NumHiddenLayers: 27, NumAttentionHeads: 16, NumKeyValueHeads: 16,
		HiddenSize: 2048, HeadDim: 128, IntermediateSize: 10944, VocabSize: 102400,
		MaxPositionEmbeddings: 163840, TorchDType: "bfloat16",
		KVLoraRank: 512, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128,
		NumExperts: 64, NumSharedExperts: 2, MoEIntermediate: 1408, FirstKDenseReplace: 1,
	},
}

// Preset returns a built-in config by short name ("Phi-3-mini-4k-instruct")
// or Hugging Face id ("microsoft/Phi-3-mini-4k-instruct"), case-insensitively.
// Name is set to the HF id.
func Preset(name string) (Config, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for id, c := range presets {
		l := strings.ToLower(id)
		if n == l || n == l[strings.IndexByte(l, '/')+1:] {
			c.Name = id
			return c, true
		}
	}
	return Config{}, false
}

// PresetNames lists the built-in presets' Hugging Face ids, sorted.
func PresetNames() []string {
	out := make([]string, 0, len(presets))
	for id := range presets {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
