package modelcfg

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveFindsTheHuggingFaceCacheSnapshot(t *testing.T) {
	hub := t.TempDir()
	t.Setenv("HF_HUB_CACHE", hub)
	repo := filepath.Join(hub, "models--acme--tiny-llama")
	snap := filepath.Join(repo, "snapshots", "abc123")
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/llama-3.1-8b-instruct-config.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snap, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"acme/tiny-llama", repo} {
		c, err := Resolve(name)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", name, err)
		}
		if c.NumHiddenLayers != 32 || c.Name != filepath.Join(snap, "config.json") {
			t.Errorf("Resolve(%q) = %s with %d layers", name, c.Name, c.NumHiddenLayers)
		}
	}
}
