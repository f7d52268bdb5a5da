package load_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/tokenizer"
	"github.com/runexp/runexp/spec"
	"go.yaml.in/yaml/v3"
)

// gpt2Tokenizer is the tokenizer package's shipped GPT-2 tokenizer.json.
var gpt2Tokenizer = filepath.Join("..", "tokenizer", "testdata", "gpt2.tokenizer.json.gz")

// A dataset's tokenizer: path resolves next to the spec file, and a file
// that is missing or no tokenizer is an error at the key's position.
func TestDatasetTokenizerIsCheckedWhenTheSpecIsDecoded(t *testing.T) {
	specFile := filepath.Join("..", "tokenizer", "spec.yaml") // a spec "in" internal/tokenizer
	for _, c := range []struct {
		value, want string
	}{
		{"testdata/gpt2.tokenizer.json.gz", ""},
		{"testdata/missing.json", "3:14: dataset.tokenizer: stat "},
		{"testdata/strings.json", "strings.json: not a tokenizer.json"},
		{"[a]", "3:14: dataset.tokenizer: expected the path of a tokenizer.json"},
	} {
		var doc yaml.Node
		src := "dataset:\n  name: random\n  tokenizer: " + c.value + "\n"
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		var v struct {
			Dataset load.Dataset `yaml:"dataset"`
		}
		d := &spec.Decoder{File: specFile}
		errs := d.Decode(doc.Content[0], "", &v)
		switch {
		case c.want == "" && len(errs) > 0:
			t.Errorf("%s: %v", c.value, errs)
		case c.want == "" && string(v.Dataset.Tokenizer) != c.value:
			t.Errorf("%s: decoded as %q, want the path as written", c.value, v.Dataset.Tokenizer)
		case c.want != "" && (len(errs) != 1 || !strings.Contains(errs.Error(), c.want)):
			t.Errorf("%s: %v, want one error containing %q", c.value, errs, c.want)
		}
	}
}

// With a tokenizer file the dataset is built without asking the server
// anything: here there is no server at all.
func TestDatasetTokenizerCountsOfflineToExactLengths(t *testing.T) {
	tok, err := tokenizer.Load(gpt2Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	d := load.Dataset{Name: load.DatasetRandom, InputLen: 100, PrefixLen: 20, RangeRatio: 0.5, NumPrompts: 12, Seed: 3,
		Tokenizer: load.TokenizerFile(gpt2Tokenizer)}
	cfg := load.Config{BaseURL: "http://127.0.0.1:1", Model: "m", Dataset: &d,
		Modes: []load.Mode{{Kind: load.KindSequential, Requests: 12}}}
	reqs, note, err := load.PrepareRequests(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "counted by tokenizer "+gpt2Tokenizer) {
		t.Errorf("note %q does not name the tokenizer file", note)
	}
	if len(reqs) != 12 {
		t.Fatalf("%d requests, want 12", len(reqs))
	}
	for i, r := range reqs {
		if got := tok.Count(r.Prompt); got != r.PromptTokens || got < 20+50 || got > 20+150 {
			t.Errorf("request %d: GPT-2 counts %d tokens, intended %d (want 70..170)", i, got, r.PromptTokens)
		}
	}
}
