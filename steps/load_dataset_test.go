package steps

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// A ShareGPT-format file (generated here) drives a load step: its path
// resolves against the spec's folder, prompts are its first human turns,
// and each request's intended prompt length is checked against the
// server's usage.
func TestShareGPTFileDrivesALoadStep(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	env := newTestEnv(t)
	env.SpecDir = t.TempDir()
	type turn struct {
		From  string `json:"from"`
		Value string `json:"value"`
	}
	var convs []map[string][]turn
	prompts := map[string]bool{}
	for i := range 8 {
		p := "please explain item " + strings.Repeat("x ", 4+i)
		prompts[p] = true
		convs = append(convs, map[string][]turn{"conversations": {{"human", p}, {"gpt", strings.Repeat("sure ", 6+i)}}})
	}
	b, _ := json.Marshal(convs)
	if err := os.WriteFile(filepath.Join(env.SpecDir, "sharegpt.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 5})
	l.Dataset = &load.Dataset{Name: load.DatasetShareGPT, Path: "sharegpt.json", NumPrompts: 5, Seed: 2}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	rows := readJSONL(t, filepath.Join(env.PointDir, "requests.jsonl"))
	if len(rows) != 5 {
		t.Fatalf("%d requests recorded, want 5", len(rows))
	}
	for _, r := range rows {
		if r["intended_prompt_tokens"] == nil || r["intended_prompt_tokens"] != r["prompt_tokens"] {
			t.Errorf("intended %v, server %v prompt tokens", r["intended_prompt_tokens"], r["prompt_tokens"])
		}
	}
	for _, row := range env.Tables()["load.requests"] {
		got, _ := row.Get("prompt_tokens")
		want, _ := row.Get("intended_prompt_tokens")
		if got == nil || got != want {
			t.Errorf("load.requests row: prompt_tokens %v, intended %v", got, want)
		}
	}
	if v := mustValue(t, env, "sequential_prompt_token_mismatches"); v != 0 {
		t.Errorf("sequential_prompt_token_mismatches %v, want 0", v)
	}
	if v := mustValue(t, env, "sequential_completed"); v != 5 {
		t.Errorf("sequential_completed %v, want 5", v)
	}
}
