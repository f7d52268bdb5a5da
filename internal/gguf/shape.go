// Package gguf writes random-weight llama-architecture GGUF v3 files with a
// SentencePiece byte-fallback vocabulary, for serving by llama.cpp-based
// engines such as Ollama when no real weights can be downloaded.
//
// The weights are arranged so that the model never emits end-of-sequence and
// never emits a byte token (so never partial UTF-8): every generation runs to
// exactly max_tokens tokens. See [Write] for how.
package gguf

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// DType is the storage type of the 2-D weight matrices. Norm weights are
// always F32, as llama.cpp's converters write them.
type DType string

// Supported weight types.
const (
	F32 DType = "f32"
	F16 DType = "f16"
)

// Size is the number of bytes per element.
func (d DType) Size() int {
	if d == F16 {
		return 2
	}
	return 4
}

func (d DType) ggmlType() uint32 {
	if d == F16 {
		return ggmlTypeF16
	}
	return ggmlTypeF32
}

// fileType is general.file_type (llama_ftype): 0 all F32, 1 mostly F16.
func (d DType) fileType() uint32 {
	if d == F16 {
		return 1
	}
	return 0
}

// ParseDType parses "f32" or "f16".
func ParseDType(s string) (DType, error) {
	switch DType(strings.ToLower(s)) {
	case F32:
		return F32, nil
	case F16:
		return F16, nil
	}
	return "", fmt.Errorf("gguf: unknown dtype %q (want f32 or f16)", s)
}

// Shape is the architecture of the generated model.
type Shape struct {
	Dim           int   `json:"dim"`      // embedding length
	Layers        int   `json:"layers"`   // block count
	Heads         int   `json:"heads"`    // attention heads
	KVHeads       int   `json:"kv_heads"` // key/value heads (GQA)
	FF            int   `json:"ff"`       // feed-forward length
	Vocab         int   `json:"vocab"`    // vocabulary size
	ContextLength int   `json:"context_length"`
	DType         DType `json:"dtype"`
}

// MinVocab is the smallest vocabulary Validate accepts: 3 specials, 256 byte
// tokens and enough word tokens to have something to emit.
const MinVocab = 3 + 256 + 64

// Presets are named shapes. "phi3-mini" matches Phi-3-mini-4k-instruct
// (3.82 B parameters, 7.6 GB in f16) except for the context length.
var Presets = map[string]Shape{
	"tiny": {Dim: 64, Layers: 2, Heads: 4, KVHeads: 4, FF: 172, Vocab: 512, ContextLength: 131072, DType: F32},
	// cpu-small: about 5–7 ms/token with num_thread 1 on a 2-core CPU
	// (Ollama v0.17.4); KV 8 KiB per context token.
	"cpu-small": {Dim: 256, Layers: 8, Heads: 8, KVHeads: 8, FF: 688, Vocab: 4096, ContextLength: 131072, DType: F32},
	// cpu-medium: about 12 ms/token there; KV 9 KiB per context token.
	"cpu-medium": {Dim: 384, Layers: 6, Heads: 6, KVHeads: 6, FF: 1024, Vocab: 4096, ContextLength: 131072, DType: F32},
	"phi3-mini":  {Dim: 3072, Layers: 32, Heads: 32, KVHeads: 32, FF: 8192, Vocab: 32064, ContextLength: 131072, DType: F16},
}

// PresetNames returns the preset names, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HeadDim is Dim / Heads.
func (s Shape) HeadDim() int {
	if s.Heads == 0 {
		return 0
	}
	return s.Dim / s.Heads
}

// Validate reports whether llama.cpp can load a model of this shape.
func (s Shape) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", name, v))
		}
	}
	pos("dim", s.Dim)
	pos("layers", s.Layers)
	pos("heads", s.Heads)
	pos("kv-heads", s.KVHeads)
	pos("ff", s.FF)
	pos("context-length", s.ContextLength)
	if len(errs) == 0 {
		if s.Dim%s.Heads != 0 {
			errs = append(errs, fmt.Errorf("dim %d not divisible by heads %d", s.Dim, s.Heads))
		} else if s.HeadDim()%2 != 0 {
			errs = append(errs, fmt.Errorf("head dim %d must be even (RoPE)", s.HeadDim()))
		}
		if s.Heads%s.KVHeads != 0 {
			errs = append(errs, fmt.Errorf("heads %d not divisible by kv-heads %d", s.Heads, s.KVHeads))
		}
	}
	if s.Vocab < MinVocab {
		errs = append(errs, fmt.Errorf("vocab must be at least %d, got %d", MinVocab, s.Vocab))
	}
	if s.ContextLength > 1<<31-1 || s.Dim > 1<<24 || s.FF > 1<<26 || s.Vocab > 1<<24 {
		errs = append(errs, errors.New("shape too large"))
	}
	if s.DType != F32 && s.DType != F16 {
		errs = append(errs, fmt.Errorf("unknown dtype %q", s.DType))
	}
	if len(errs) > 0 {
		return fmt.Errorf("gguf: invalid shape: %w", errors.Join(errs...))
	}
	return nil
}

// Params is the number of weights (all tensors).
func (s Shape) Params() int64 {
	d, ff, v := int64(s.Dim), int64(s.FF), int64(s.Vocab)
	kv := int64(s.KVHeads * s.HeadDim())
	perLayer := 2*d*d + 2*d*kv + 3*d*ff + 2*d
	return 2*v*d + d + int64(s.Layers)*perLayer
}

// KVBytesPerToken is the KV-cache size of one context token:
// 2 (K and V) × layers × kv_heads × head_dim × cacheTypeBytes.
// Ollama's default cache type is f16 (2 bytes), independent of DType.
func (s Shape) KVBytesPerToken(cacheTypeBytes int) int64 {
	return 2 * int64(s.Layers) * int64(s.KVHeads) * int64(s.HeadDim()) * int64(cacheTypeBytes)
}

// CheckName rejects model names that make llama.cpp treat the vocabulary as
// Phi-3's: for names containing "phi3" or "phi-3" it looks up Phi-3 special
// tokens, which a byte-fallback vocabulary lacks, and crashes.
func CheckName(name string) error {
	if name == "" {
		return errors.New("gguf: empty model name")
	}
	l := strings.ToLower(name)
	for _, bad := range []string{"phi3", "phi-3"} {
		if strings.Contains(l, bad) {
			return fmt.Errorf("gguf: model name %q contains %q: llama.cpp would expect Phi-3 special tokens and fail to load the vocabulary", name, bad)
		}
	}
	return nil
}
