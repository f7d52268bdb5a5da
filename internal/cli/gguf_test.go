package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/gguf"
)

// Flags override the preset shape; --heads without --kv-heads sets both.
func TestGGUFFlagsOverrideThePresetShape(t *testing.T) {
	var out, errb bytes.Buffer
	err := cmdGGUF("gengguf", []string{"--shape", "phi3-mini", "--layers", "2", "--heads", "16", "--print-shape"}, &out, &errb)
	if err != nil {
		t.Fatal(err, errb.String())
	}
	var info gguf.Info
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	// --heads without --kv-heads sets both; other fields keep the preset.
	if info.Layers != 2 || info.Heads != 16 || info.KVHeads != 16 || info.Dim != 3072 || info.DType != gguf.F16 ||
		info.HeadDim != 192 || info.KVBytesPerTokenF16 != 2*2*16*192*2 || info.ContextLength != 131072 {
		t.Errorf("info %+v", info)
	}
}

// gguf writes the model and a JSON sidecar describing it, and prints its
// digest.
func TestGGUFWritesTheModelAndItsSidecar(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	var stdout, stderr bytes.Buffer
	if err := cmdGGUF("gengguf", []string{"--out", out, "--dtype", "f16", "--kv-heads", "2", "--seed", "5"}, &stdout, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	info, err := gguf.ReadInfo(out + ".json")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(out)
	if info.FileBytes != st.Size() || info.KVHeads != 2 || info.Seed != 5 || info.Name != "random-llama-156k" ||
		strings.TrimSpace(stdout.String()) != "sha256:"+info.SHA256 {
		t.Errorf("info %+v stdout %q", info, stdout.String())
	}
}

// A phi3 name, an unknown shape or dtype, an impossible shape or no --out
// is an error.
func TestGGUFRejectsBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"--name", "phi3shape", "--print-shape"},
		{"--shape", "nope", "--print-shape"},
		{"--dtype", "q4_0", "--print-shape"},
		{"--heads", "5", "--print-shape"},
		{}, // no --out
	} {
		var o, e bytes.Buffer
		if err := cmdGGUF("gengguf", args, &o, &e); err == nil {
			t.Errorf("gguf %q succeeded", args)
		}
	}
}
