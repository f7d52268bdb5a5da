// Package modelcfg reads the parts of a Hugging Face config.json that decide
// an LLM's memory footprint, and predicts how vLLM sizes its KV-cache pool
// on a GPU: per tensor-parallel rank, for quantized weights (AWQ, GPTQ, fp8,
// bitsandbytes) and fp8 KV caches, under the accounting of a chosen vLLM
// release (EngineProfile; the newest by default). The prediction is shared
// by `runexp capacity`, the measure step (the "predicted" column) and the
// vLLM simulator (its actual accounting), so the memory model lives here, in
// one place. testdata/vllm-logs.json holds the public startup logs it is
// checked against.
//
// All byte counts are int64 bytes; GiB means 2^30 bytes.
package modelcfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Config is the architecture subset of a Hugging Face config.json.
// Zero values mean "absent"; Parse fills the documented defaults.
type Config struct {
	// Name is the preset name or the file the config came from (informational).
	Name      string `json:"name,omitempty"`
	ModelType string `json:"model_type,omitempty"`

	NumHiddenLayers       int `json:"num_hidden_layers"`
	NumAttentionHeads     int `json:"num_attention_heads"`
	NumKeyValueHeads      int `json:"num_key_value_heads"` // default: NumAttentionHeads
	HiddenSize            int `json:"hidden_size"`
	HeadDim               int `json:"head_dim"` // default: HiddenSize / NumAttentionHeads
	IntermediateSize      int `json:"intermediate_size"`
	VocabSize             int `json:"vocab_size"`
	MaxPositionEmbeddings int `json:"max_position_embeddings"`
	// TorchDType is config.json's torch_dtype (or the newer "dtype" key), e.g. "bfloat16".
	TorchDType        string `json:"torch_dtype,omitempty"`
	TieWordEmbeddings bool   `json:"tie_word_embeddings"`
	// AttentionBias: q/k/v projections carry a bias. Parse defaults it to true
	// for model_type qwen2 (which has no attention_bias key), else false.
	AttentionBias bool `json:"attention_bias"`
	// SlidingWindow is the attention window in tokens, 0 when absent or
	// disabled by use_sliding_window=false (Qwen2.5 carries a window it ignores).
	SlidingWindow int `json:"sliding_window,omitempty"`
	// FullAttentionLayers counts the layers that keep the whole context when
	// the model alternates sliding-window and full attention (HF
	// layer_types: gpt-oss, Gemma-2/3, OLMo-3); 0 when every layer follows
	// SlidingWindow.
	FullAttentionLayers int `json:"full_attention_layers,omitempty"`

	// MLA (DeepSeek-V2/V3, Kimi-K2): KVLoraRank > 0 marks an MLA model.
	KVLoraRank    int `json:"kv_lora_rank,omitempty"`
	QKRopeHeadDim int `json:"qk_rope_head_dim,omitempty"`
	QKNopeHeadDim int `json:"qk_nope_head_dim,omitempty"`
	VHeadDim      int `json:"v_head_dim,omitempty"`
	QLoraRank     int `json:"q_lora_rank,omitempty"`

	// Mixture of experts (DeepSeek style: n_routed_experts, or Mixtral/Qwen-MoE
	// style: num_local_experts / num_experts). Used only by ParamCount.
	NumExperts         int `json:"num_experts,omitempty"`
	NumSharedExperts   int `json:"n_shared_experts,omitempty"`
	MoEIntermediate    int `json:"moe_intermediate_size,omitempty"`
	FirstKDenseReplace int `json:"first_k_dense_replace,omitempty"`

	// NumParameters, when set, overrides ParamCount's architecture estimate.
	NumParameters int64 `json:"num_parameters,omitempty"`

	// Quantization is the checkpoint's quantization_config (zero: unquantized).
	Quantization Quantization `json:"quantization,omitempty"`
}

// IsMLA reports whether the model uses multi-head latent attention.
func (c Config) IsMLA() bool { return c.KVLoraRank > 0 }

// rawConfig mirrors config.json with pointers so absent keys are detectable.
type rawConfig struct {
	ModelType             string          `json:"model_type"`
	NumHiddenLayers       *int            `json:"num_hidden_layers"`
	NumAttentionHeads     *int            `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HiddenSize            *int            `json:"hidden_size"`
	HeadDim               *int            `json:"head_dim"`
	IntermediateSize      *int            `json:"intermediate_size"`
	VocabSize             *int            `json:"vocab_size"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	TorchDType            string          `json:"torch_dtype"`
	DType                 string          `json:"dtype"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	AttentionBias         *bool           `json:"attention_bias"`
	SlidingWindow         *int            `json:"sliding_window"`
	UseSlidingWindow      *bool           `json:"use_sliding_window"`
	LayerTypes            []string        `json:"layer_types"`
	SlidingWindowPattern  *int            `json:"sliding_window_pattern"`
	KVLoraRank            *int            `json:"kv_lora_rank"`
	QKRopeHeadDim         *int            `json:"qk_rope_head_dim"`
	QKNopeHeadDim         *int            `json:"qk_nope_head_dim"`
	VHeadDim              *int            `json:"v_head_dim"`
	QLoraRank             *int            `json:"q_lora_rank"`
	NRoutedExperts        *int            `json:"n_routed_experts"`
	NumLocalExperts       *int            `json:"num_local_experts"`
	NumExperts            *int            `json:"num_experts"`
	NSharedExperts        *int            `json:"n_shared_experts"`
	MoEIntermediateSize   *int            `json:"moe_intermediate_size"`
	FirstKDenseReplace    *int            `json:"first_k_dense_replace"`
	TextConfig            json.RawMessage `json:"text_config"`
	QuantizationConfig    json.RawMessage `json:"quantization_config"`
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// Parse decodes a Hugging Face config.json. Multimodal configs whose language
// model sits under "text_config" are read from there.
func Parse(data []byte) (Config, error) {
	var raw rawConfig
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("modelcfg: parse config.json: %w", err)
	}
	if raw.NumHiddenLayers == nil && len(raw.TextConfig) > 0 && string(raw.TextConfig) != "null" {
		c, err := Parse(raw.TextConfig)
		if err != nil {
			return Config{}, fmt.Errorf("modelcfg: text_config: %w", err)
		}
		if c.TorchDType == "" {
			c.TorchDType = firstNonEmpty(raw.TorchDType, raw.DType)
		}
		if c.Quantization.Method == "" {
			c.Quantization = parseQuantizationConfig(raw.QuantizationConfig)
		}
		return c, nil
	}
	c := Config{
		ModelType:             raw.ModelType,
		NumHiddenLayers:       intOr(raw.NumHiddenLayers, 0),
		NumAttentionHeads:     intOr(raw.NumAttentionHeads, 0),
		HiddenSize:            intOr(raw.HiddenSize, 0),
		IntermediateSize:      intOr(raw.IntermediateSize, 0),
		VocabSize:             intOr(raw.VocabSize, 0),
		MaxPositionEmbeddings: intOr(raw.MaxPositionEmbeddings, 0),
		TorchDType:            firstNonEmpty(raw.TorchDType, raw.DType),
		KVLoraRank:            intOr(raw.KVLoraRank, 0),
		QKRopeHeadDim:         intOr(raw.QKRopeHeadDim, 0),
		QKNopeHeadDim:         intOr(raw.QKNopeHeadDim, 0),
		VHeadDim:              intOr(raw.VHeadDim, 0),
		QLoraRank:             intOr(raw.QLoraRank, 0),
		NumSharedExperts:      intOr(raw.NSharedExperts, 0),
		MoEIntermediate:       intOr(raw.MoEIntermediateSize, 0),
		FirstKDenseReplace:    intOr(raw.FirstKDenseReplace, 0),
	}
	c.NumKeyValueHeads = intOr(raw.NumKeyValueHeads, c.NumAttentionHeads)
	if raw.HeadDim != nil && *raw.HeadDim > 0 {
		c.HeadDim = *raw.HeadDim
	} else if c.NumAttentionHeads > 0 {
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	if raw.TieWordEmbeddings != nil {
		c.TieWordEmbeddings = *raw.TieWordEmbeddings
	}
	if raw.AttentionBias != nil {
		c.AttentionBias = *raw.AttentionBias
	} else {
		c.AttentionBias = c.ModelType == "qwen2" || c.ModelType == "qwen2_moe"
	}
	if raw.SlidingWindow != nil && (raw.UseSlidingWindow == nil || *raw.UseSlidingWindow) {
		c.SlidingWindow = *raw.SlidingWindow
	}
	if c.SlidingWindow > 0 && len(raw.LayerTypes) == 0 {
		// Older Gemma configs imply layer_types, as transformers derives
		// them: every n-th layer (1-based) is full attention.
		n := 0
		switch c.ModelType {
		case "gemma2":
			n = 2
		case "gemma3", "gemma3_text":
			n = 6
			if raw.SlidingWindowPattern != nil && *raw.SlidingWindowPattern > 0 {
				n = *raw.SlidingWindowPattern
			}
		}
		for i := 0; n > 0 && i < c.NumHiddenLayers; i++ {
			t := "sliding_attention"
			if (i+1)%n == 0 {
				t = "full_attention"
			}
			raw.LayerTypes = append(raw.LayerTypes, t)
		}
	}
	if c.SlidingWindow > 0 && len(raw.LayerTypes) > 0 {
		// vLLM gives full-attention layers a FullAttentionSpec and the rest a
		// SlidingWindowSpec (kv_cache_utils.get_kv_cache_groups).
		full := 0
		for _, t := range raw.LayerTypes {
			if t == "full_attention" {
				full++
			}
		}
		switch full {
		case len(raw.LayerTypes):
			c.SlidingWindow = 0
		case 0:
		default:
			c.FullAttentionLayers = full
		}
	}
	c.NumExperts = intOr(raw.NRoutedExperts, intOr(raw.NumLocalExperts, intOr(raw.NumExperts, 0)))
	c.Quantization = parseQuantizationConfig(raw.QuantizationConfig)
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Validate reports missing fields that the KV and weight formulas need.
func (c Config) Validate() error {
	var missing []string
	if c.NumHiddenLayers <= 0 {
		missing = append(missing, "num_hidden_layers")
	}
	if c.NumAttentionHeads <= 0 {
		missing = append(missing, "num_attention_heads")
	}
	if c.HiddenSize <= 0 {
		missing = append(missing, "hidden_size")
	}
	if !c.IsMLA() && c.HeadDim <= 0 {
		missing = append(missing, "head_dim")
	}
	if c.IsMLA() && c.QKRopeHeadDim <= 0 {
		missing = append(missing, "qk_rope_head_dim")
	}
	if len(missing) > 0 {
		return fmt.Errorf("modelcfg: config.json lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// Load reads a config.json file, or dir/config.json when path is a directory.
func Load(path string) (Config, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("modelcfg: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%w (file %s)", err, path)
	}
	c.Name = path
	return c, nil
}

// ErrUnknownModel is returned by Resolve for a name that is neither a preset
// nor a readable file.
var ErrUnknownModel = errors.New("modelcfg: unknown model")

// Resolve returns the preset called nameOrPath, or else loads it as a
// config.json path (file or directory, including a Hugging Face cache
// folder models--org--name), or else finds "org/name" in the local Hugging
// Face cache. It never uses the network.
func Resolve(nameOrPath string) (Config, error) {
	if c, ok := Preset(nameOrPath); ok {
		return c, nil
	}
	if _, err := os.Stat(nameOrPath); err == nil {
		if snap := snapshotConfig(nameOrPath); snap != "" {
			return Load(snap)
		}
		return Load(nameOrPath)
	}
	if org, name, ok := strings.Cut(nameOrPath, "/"); ok && !strings.Contains(name, "/") {
		if snap := snapshotConfig(filepath.Join(hfHubCache(), "models--"+org+"--"+name)); snap != "" {
			return Load(snap)
		}
	}
	return Config{}, fmt.Errorf("%w %q: not a preset (%s), not a config.json path and not in the Hugging Face cache %s",
		ErrUnknownModel, nameOrPath, strings.Join(PresetNames(), ", "), hfHubCache())
}

// hfHubCache is the Hugging Face hub cache folder: $HF_HUB_CACHE, else
// $HF_HOME/hub, else ~/.cache/huggingface/hub.
func hfHubCache() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

// snapshotConfig returns the config.json of a cache folder
// (models--org--name) without one at its top: the one that refs/main
// names, else the newest snapshot's; "" when there is none.
func snapshotConfig(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return ""
	}
	if ref, err := os.ReadFile(filepath.Join(dir, "refs", "main")); err == nil {
		p := filepath.Join(dir, "snapshots", strings.TrimSpace(string(ref)), "config.json")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "config.json"))
	newest, newestTime := "", int64(0)
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && (newest == "" || fi.ModTime().UnixNano() > newestTime) {
			newest, newestTime = m, fi.ModTime().UnixNano()
		}
	}
	return newest
}
