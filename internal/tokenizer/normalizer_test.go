package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestNFCNormalizerComposesBeforeEncoding: with Qwen2's NFC normalizer, a
// decomposed "é" encodes as the composed one; without it, differently.
func TestNFCNormalizerComposesBeforeEncoding(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "gpt2.tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	plain, err := Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	doc["normalizer"] = map[string]any{"type": "NFC"}
	data, err = json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	withNFC, err := Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	composed, decomposed := "café", "cafe\u0301"
	if slices.Equal(plain.Encode(composed, true), plain.Encode(decomposed, true)) {
		t.Fatal("the test's two spellings encode alike even without NFC")
	}
	if got, want := withNFC.Encode(decomposed, true), plain.Encode(composed, true); !slices.Equal(got, want) {
		t.Errorf("with NFC, Encode(decomposed) = %v, want the composed spelling's %v", got, want)
	}
}
