package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// DefaultPrompt is the seed client's prompt (day007 batch_client.py).
const DefaultPrompt = "Explain memory fragmentation in one short sentence."

// Prompts selects where request prompts come from. At most one of Fixed,
// List, File and SyntheticTokens may be set; if none is, every request uses
// DefaultPrompt. Request i uses prompt i mod len(prompts).
type Prompts struct {
	Fixed string   // one prompt for every request
	List  []string // prompts used in turn
	// File holds one prompt per line; a line starting with '{' is read as a
	// JSON object with a string "prompt" member (JSONL). Blank lines are
	// skipped.
	File string
	// SyntheticTokens asks for generated prompts of about this many tokens
	// each (one common English word ≈ one token for BPE tokenizers); each
	// starts with its own number, so prompts differ from their first token
	// and prefix caching cannot share them.
	SyntheticTokens int
	SyntheticCount  int   // distinct synthetic prompts; default 64
	Seed            int64 // synthetic: generator seed (same seed, same prompts)
}

func (p Prompts) validate() error {
	n := 0
	if p.Fixed != "" {
		n++
	}
	if len(p.List) > 0 {
		n++
	}
	if p.File != "" {
		n++
	}
	if p.SyntheticTokens != 0 {
		n++
		if p.SyntheticTokens < 1 {
			return fmt.Errorf("synthetic_tokens %d must be >= 1", p.SyntheticTokens)
		}
	}
	if n > 1 {
		return errors.New("set only one of fixed, list, file, synthetic_tokens")
	}
	if p.SyntheticCount < 0 {
		return fmt.Errorf("synthetic_count %d must be >= 0", p.SyntheticCount)
	}
	for i, s := range p.List {
		if s == "" {
			return fmt.Errorf("list[%d] is empty", i)
		}
	}
	return nil
}

// Load returns the prompts p describes (never an empty slice on success).
func (p Prompts) Load() ([]string, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	switch {
	case p.Fixed != "":
		return []string{p.Fixed}, nil
	case len(p.List) > 0:
		return append([]string(nil), p.List...), nil
	case p.File != "":
		return readPromptFile(p.File)
	case p.SyntheticTokens > 0:
		n := p.SyntheticCount
		if n == 0 {
			n = 64
		}
		return Synthetic(p.SyntheticTokens, n, p.Seed), nil
	}
	return []string{DefaultPrompt}, nil
}

func readPromptFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if line[0] == '{' {
			var obj struct {
				Prompt *string `json:"prompt"`
			}
			if err := json.Unmarshal(line, &obj); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, ln, err)
			}
			if obj.Prompt == nil || *obj.Prompt == "" {
				return nil, fmt.Errorf("%s:%d: JSON line has no non-empty \"prompt\"", path, ln)
			}
			out = append(out, *obj.Prompt)
			continue
		}
		out = append(out, string(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return out, nil
}

// words are common lowercase English words; each is a single token in the
// GPT-2/Llama/Phi BPE vocabularies when preceded by a space.
var words = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so no
will more can out up into do time only new some could these two may first then other any like our over
such after most also made many before must well back through years much where your way down should
because long each just used people state work world own year under same last few very life between
make while both great part after water place small number old end hand high early large city system
group house world day power light point line order form music good study life area game black white`)

// Synthetic returns n prompts of about tokens tokens each, deterministic for
// seed.
func Synthetic(tokens, n int, seed int64) []string {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		b.WriteString(strconv.Itoa(i))
		for j := 1; j < tokens; j++ {
			b.WriteByte(' ')
			b.WriteString(words[r.IntN(len(words))])
		}
		out[i] = b.String()
	}
	return out
}
