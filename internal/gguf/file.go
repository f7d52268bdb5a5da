package gguf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Info describes a generated file: what runexp needs to predict memory
// (KV bytes per token) and to register the file with a server (digest).
// It is written as a JSON sidecar next to the model.
type Info struct {
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	Shape
	HeadDim int    `json:"head_dim"`
	Seed    uint64 `json:"seed"`
	Params  int64  `json:"params"`
	// FileBytes is the GGUF file size; WeightBytes the tensor data only.
	FileBytes   int64 `json:"file_bytes"`
	WeightBytes int64 `json:"weight_bytes"`
	// KVBytesPerTokenF16 = 2 × layers × kv_heads × head_dim × 2: the KV
	// cache per context token (per slot) with an f16 cache, Ollama's default.
	KVBytesPerTokenF16 int64 `json:"kv_bytes_per_token_f16"`
	// SHA256 is the hex digest of the file, when it was computed.
	SHA256 string `json:"sha256,omitempty"`
}

// Info summarises the planned file (SHA256 left empty).
func (l *Layout) Info() Info {
	s := l.Options.Shape
	return Info{
		Name:               l.Options.Name,
		Architecture:       "llama",
		Shape:              s,
		HeadDim:            s.HeadDim(),
		Seed:               l.Options.Seed,
		Params:             s.Params(),
		FileBytes:          l.Size(),
		WeightBytes:        int64(l.DataBytes),
		KVBytesPerTokenF16: s.KVBytesPerToken(2),
	}
}

// WriteFile writes the model to path (through a temporary file renamed into
// place) and returns its Info with the SHA-256 digest, hashed while writing
// on a second goroutine.
func WriteFile(path string, opts Options) (Info, error) {
	l, err := Plan(opts)
	if err != nil {
		return Info{}, err
	}
	info := l.Info()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return info, err
	}
	tmp := f.Name()
	defer func() {
		if tmp != "" {
			f.Close()
			os.Remove(tmp)
		}
	}()
	hw := &hashingWriter{w: f, h: sha256.New()}
	if _, err := l.WriteTo(hw); err != nil {
		return info, err
	}
	if err := f.Close(); err != nil {
		return info, err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return info, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return info, err
	}
	tmp = ""
	info.SHA256 = hex.EncodeToString(hw.h.Sum(nil))
	return info, nil
}

// WriteInfo writes info as indented JSON.
func WriteInfo(path string, info Info) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadInfo reads a sidecar written by WriteInfo.
func ReadInfo(path string) (Info, error) {
	var info Info
	b, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("gguf: %s: %w", path, err)
	}
	return info, nil
}

// hashingWriter writes each chunk to w and to h concurrently (the chunks
// are the bufio buffer's 8 MiB flushes, so the goroutine cost is small).
type hashingWriter struct {
	w io.Writer
	h hash.Hash
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	var wg sync.WaitGroup
	wg.Go(func() { hw.h.Write(p) })
	n, err := hw.w.Write(p)
	wg.Wait()
	return n, err
}
