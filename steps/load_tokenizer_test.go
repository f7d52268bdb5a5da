package steps

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// A dataset's tokenizer: resolves against the spec's folder and counts the
// prompt lengths (the log says so), though the server could count them.
func TestLoadStepCountsWithTheDatasetsTokenizerFile(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	env := newTestEnv(t)
	env.SpecDir = t.TempDir()
	var log bytes.Buffer
	env.Log = &log
	gz, err := os.ReadFile(filepath.Join("..", "internal", "tokenizer", "testdata", "gpt2.tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(env.SpecDir, "tokenizer.json.gz"), gz, 0o644); err != nil {
		t.Fatal(err)
	}
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 4})
	l.Dataset = &load.Dataset{Name: load.DatasetRandom, InputLen: 32, OutputLen: 4, NumPrompts: 4, Tokenizer: "tokenizer.json.gz"}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if want := "counted by tokenizer " + filepath.Join(env.SpecDir, "tokenizer.json.gz"); !strings.Contains(log.String(), want) {
		t.Errorf("log does not say %q:\n%s", want, log.String())
	}
	rows := readJSONL(t, filepath.Join(env.PointDir, "requests.jsonl"))
	if len(rows) != 4 {
		t.Fatalf("%d requests recorded, want 4", len(rows))
	}
	for _, r := range rows {
		if r["intended_prompt_tokens"] != 32.0 {
			t.Errorf("intended %v prompt tokens, want 32", r["intended_prompt_tokens"])
		}
	}
}
