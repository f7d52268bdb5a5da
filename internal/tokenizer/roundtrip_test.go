package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzEncodeNeverPanicsAndByteLevelRoundTrips: any input encodes, and a
// byte-level tokenizer decodes its ids back to the very bytes.
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
	f.Fuzz(func(t *testing.T, s string) {
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
