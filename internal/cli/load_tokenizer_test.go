package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gpt2Tokenizer is the tokenizer package's shipped GPT-2 tokenizer.json.
var gpt2Tokenizer = filepath.Join("..", "tokenizer", "testdata", "gpt2.tokenizer.json.gz")

// With --tokenizer the lengths are counted locally, as vLLM bench does,
// even though the simulator has /tokenize; the simulator counts with its
// own tokenizer, not GPT-2's, so the requests record the mismatch.
func TestLoadWithATokenizerCountsLocallyAndRecordsTheServersMismatches(t *testing.T) {
	url := startSim(t)
	out := filepath.Join(t.TempDir(), "requests.jsonl")
	var stdout, stderr bytes.Buffer
	code := runLoad([]string{"--base-url", url, "--model", "microsoft/Phi-3-mini-4k-instruct", "--dataset-name", "random",
		"--random-input-len", "64", "--random-output-len", "4", "--num-prompts", "8", "--tokenizer", gpt2Tokenizer,
		"--requests-out", out, "--no-progress", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "counted by tokenizer "+gpt2Tokenizer) {
		t.Errorf("stderr does not say the tokenizer file counted: %s", stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, differ := 0, 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var r struct {
			PromptTokens int `json:"prompt_tokens"`
			Intended     int `json:"intended_prompt_tokens"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Intended != 64 {
			t.Errorf("request %d: intended %d prompt tokens, want 64 (GPT-2's count)", n, r.Intended)
		}
		if r.PromptTokens != r.Intended {
			differ++
		}
	}
	if n != 8 {
		t.Fatalf("%d requests, want 8", n)
	}
	var sums []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &sums); err != nil || len(sums) != 1 {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	if differ == 0 || sums[0]["prompt_token_mismatches"] != float64(differ) {
		t.Errorf("%d requests differ from the server's count, summary says %v: want the GPT-2/simulator difference recorded",
			differ, sums[0]["prompt_token_mismatches"])
	}
}

func TestLoadTokenizerFlagErrorsAreUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tokenizer", gpt2Tokenizer}, "--tokenizer needs --dataset-name"},
		{[]string{"--dataset-name", "random", "--tokenizer", "no-such-tokenizer.json"}, "no-such-tokenizer.json"},
		{[]string{"--dataset-name", "random", "--tokenizer", "load.go"}, "not a tokenizer.json"},
	} {
		var stdout, stderr bytes.Buffer
		code := runLoad(append([]string{"--url", "127.0.0.1:1", "--model", "m"}, c.args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d: %s; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}
