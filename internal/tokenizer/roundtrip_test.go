package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncodeNeverPanicsAndByteLevelRoundTrips: any input encodes (with a
// byte-level and a SentencePiece-style tokenizer), and the byte-level one
// decodes its ids back to the very bytes.
func FuzzEncodeNeverPanicsAndByteLevelRoundTrips(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "strings.json"))
	if err != nil {
		f.Fatal(err)
	}
	var seeds []string
	if err := json.Unmarshal(data, &seeds); err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add("\xff\xfe invalid utf-8 \xc3")
	tok, err := Load(filepath.Join("testdata", "gpt2.tokenizer.json.gz"))
	if err != nil {
		f.Fatal(err)
	}
	spm, err := Parse(strings.NewReader(spmJSON(`null`, `{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}`)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ids := spm.Encode(s, false); s != "" && len(ids) == 0 {
			t.Fatalf("SentencePiece Encode(%q) gave no ids", s)
		}
		ids := tok.Encode(s, true)
		if s != "" && len(ids) == 0 {
			t.Fatalf("Encode(%q) gave no ids", s)
		}
		if got := tok.Decode(ids); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		if utf8.ValidString(s) && len(ids) > len(s)+len(tok.before)+len(tok.after) {
			t.Fatalf("Encode(%q): %d ids for %d bytes", s, len(ids), len(s))
		}
	})
}
