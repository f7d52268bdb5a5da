package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// One Tokenizer serves concurrent encodes (the word cache is shared), each
// giving what a lone encode gives; -race checks the sharing.
func TestConcurrentEncodesAgreeWithSequentialOnes(t *testing.T) {
	tok := referenceTokenizer(t, "gpt2")
	data, err := os.ReadFile(filepath.Join("testdata", "strings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(data, &texts); err != nil {
		t.Fatal(err)
	}
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s, true)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range texts {
				i := (k + g*7) % len(texts)
				if got := tok.Encode(texts[i], true); !slices.Equal(got, want[i]) {
					t.Errorf("goroutine %d: Encode(%q) = %v, want %v", g, texts[i], got, want[i])
				}
			}
		})
	}
	wg.Wait()
}
