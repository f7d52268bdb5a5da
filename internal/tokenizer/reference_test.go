package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// referenceCase is one line of a golden file written by testdata/reference.js.
type referenceCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

// referenceTokenizer loads a tokenizer named in testdata: the shipped
// gzip, else $RUNEXP_TOKENIZER_DIR/<name>.json, else the test skips.
func referenceTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	path := filepath.Join("testdata", name+".tokenizer.json.gz")
	if _, err := os.Stat(path); err != nil {
		dir := os.Getenv("RUNEXP_TOKENIZER_DIR")
		if dir == "" {
			t.Skipf("%s's tokenizer.json is not shipped (licence); set RUNEXP_TOKENIZER_DIR to a folder with %s.json", name, name)
		}
		path = filepath.Join(dir, name+".json")
	}
	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func readGolden(t *testing.T, name string) []referenceCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []referenceCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("%s: %d cases, want the whole strings.json", name, len(cases))
	}
	return cases
}

func TestEncodeMatchesTheReferenceImplementation(t *testing.T) {
	for _, name := range []string{"gpt2", "llama2", "llama3"} {
		t.Run(name, func(t *testing.T) {
			tok := referenceTokenizer(t, name)
			for _, c := range readGolden(t, name) {
				if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
				}
				if got := tok.Count(c.Text); got != len(c.IDs) {
					t.Errorf("Count(%q) = %d, want %d", c.Text, got, len(c.IDs))
				}
			}
		})
	}
}

func TestGoldensCoverEveryString(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "strings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gpt2", "llama2", "llama3"} {
		var got []string
		for _, c := range readGolden(t, name) {
			got = append(got, c.Text)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s.golden.json is not strings.json's list: regenerate it with reference.js", name)
		}
	}
}

// TestDifferentialAgainstTheReference compares many random strings
// (testdata/random_strings.py, encoded by testdata/reference.js into
// $RUNEXP_TOKENIZER_DIFF/<name>.random.json, <name> a tokenizer as
// referenceTokenizer finds it); it skips without them.
func TestDifferentialAgainstTheReference(t *testing.T) {
	dir := os.Getenv("RUNEXP_TOKENIZER_DIFF")
	if dir == "" {
		t.Skip("RUNEXP_TOKENIZER_DIFF is not set (see testdata/random_strings.py)")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.random.json"))
	if len(files) == 0 {
		t.Skipf("no *.random.json in %s", dir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".random.json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var cases []referenceCase
			if err := json.Unmarshal(data, &cases); err != nil {
				t.Fatal(err)
			}
			tok := referenceTokenizer(t, name)
			differ := 0
			for _, c := range cases {
				if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDs) {
					if differ++; differ <= 5 {
						t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
					}
				}
			}
			t.Logf("%d of %d strings differ", differ, len(cases))
		})
	}
}
