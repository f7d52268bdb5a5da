// Package tokenizer encodes text to token ids with a Hugging Face
// tokenizer.json, in pure Go and offline, so that runexp can count a
// prompt's tokens as the server will without asking it.
//
// Contract: Load (or Parse) accepts a tokenizer.json whose model is BPE in
// one of the two shapes served models use, and refuses anything else with
// an error naming what it does not support:
//
//   - byte-level BPE (GPT-2, Llama-3, Qwen2): a ByteLevel pre-tokenizer,
//     or a Split on the GPT-2/Llama-3/Qwen2 regex followed by ByteLevel
//     without regex; an optional NFC normalizer;
//   - SentencePiece-style BPE (Llama-2, Mistral, Phi-3): the normalizer
//     Prepend "▁" + Replace " "→"▁" or the Metaspace pre-tokenizer, merges
//     by rank, byte_fallback to <0xXX> tokens.
//
// Ids equal those of Hugging Face's Rust tokenizers, which servers use
// (testdata holds goldens and the script that made them). Added tokens are
// matched in the raw text first (leftmost-longest, as the Rust library
// does), and Encode with special tokens adds what the post-processor's
// TemplateProcessing puts around a single sequence (the BOS of Llama-2):
// the count a server reports with add_special_tokens. Split regexes use
// Unicode White_Space for \s, as the Rust library's Oniguruma does.
// A Tokenizer is safe for concurrent use. Files over MaxFileBytes are
// refused; merges are ranked in a map and short words cached, so encoding
// is O(n log n) in the longest word.
package tokenizer

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// MaxFileBytes bounds the tokenizer.json read (Llama-3's is 9 MB; the
// largest served vocabularies are about 20 MB).
const MaxFileBytes = 64 << 20

// maxCachedWord is the longest word (bytes) kept in the word cache, and
// maxCacheEntries the cache's size: the cache pays for repeated short
// words; a SentencePiece text with no pre-tokenizer is one long word.
const (
	maxCachedWord   = 64
	maxCacheEntries = 1 << 16
)

// ErrUnsupported is wrapped by the errors for tokenizer.json features this
// package does not implement (another model type, normalizer, pre-tokenizer
// or post-processor).
var ErrUnsupported = errors.New("unsupported tokenizer")

// Tokenizer encodes text as the tokenizer.json it was loaded from does.
type Tokenizer struct {
	vocab        map[string]int
	tokens       map[int]string // id -> token, for Decode
	merges       map[[2]int]merge
	added        addedTokens
	spacesToMeta bool // SentencePiece-style: spaces become "▁"

	// byte-level
	byteLevel      bool
	split          *splitter // nil: no regex split
	addPrefixSpace bool
	nfc            bool

	// SentencePiece-style
	prependAll   bool // Prepend normalizer: every segment gets "▁"
	metaspace    *metaspace
	byteFallback bool
	unk          int // -1: none
	fuseUnk      bool
	ignoreMerges bool

	before, after []int // post-processor ids around a single sequence

	mu    sync.Mutex
	cache map[string][]int
}

// merge is one merge rule: its rank (lower merges first) and the id of the
// merged token.
type merge struct{ rank, id int }

// Load reads a tokenizer.json (or a gzip of one, by its magic bytes) from
// path; see Parse.
func Load(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a tokenizer.json, plain or gzipped, of at most MaxFileBytes.
func Parse(r io.Reader) (*Tokenizer, error) {
	br := &peekReader{r: r}
	var in io.Reader = br
	if magic, _ := br.peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		in = zr
	}
	data, err := io.ReadAll(io.LimitReader(in, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("larger than %d MiB: not a tokenizer.json", MaxFileBytes>>20)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	return build(&f)
}

// peekReader lets Parse look at the first bytes without losing them.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func (p *peekReader) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		b := make([]byte, n-len(p.buf))
		k, err := p.r.Read(b)
		p.buf = append(p.buf, b[:k]...)
		if err != nil {
			return p.buf, err
		}
	}
	return p.buf[:n], nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// Count returns the number of tokens of text with the special tokens the
// post-processor adds (what a server counts for a completions prompt).
func (t *Tokenizer) Count(text string) int { return len(t.Encode(text, true)) }

// Encode returns the ids of text; withSpecial adds the post-processor's
// special tokens (add_special_tokens).
func (t *Tokenizer) Encode(text string, withSpecial bool) []int {
	var ids []int
	if withSpecial {
		ids = append(ids, t.before...)
	}
	first := true
	for _, seg := range t.added.split(text) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			first = false
			continue
		}
		ids = t.encodeSegment(ids, seg.text, first)
		first = false
	}
	if withSpecial {
		ids = append(ids, t.after...)
	}
	return ids
}

// encodeSegment appends the ids of a text between added tokens; first is
// whether it starts the input (Metaspace's prepend_scheme "first").
func (t *Tokenizer) encodeSegment(ids []int, s string, first bool) []int {
	if s == "" {
		return ids
	}
	if t.byteLevel {
		if t.nfc {
			s = nfc(s)
		}
		if t.addPrefixSpace && !strings.HasPrefix(s, " ") {
			s = " " + s
		}
		if t.split == nil {
			return t.bpeWord(ids, byteLevelString(s))
		}
		for _, w := range t.split.pieces(s) {
			ids = t.bpeWord(ids, byteLevelString(w))
		}
		return ids
	}
	if t.metaspace != nil {
		for _, w := range t.metaspace.pieces(s, first) {
			ids = t.bpeWord(ids, w)
		}
		return ids
	}
	if t.prependAll {
		s = "▁" + s
	}
	if t.spacesToMeta {
		s = strings.ReplaceAll(s, " ", "▁")
	}
	return t.bpeWord(ids, s)
}

// Decode returns the text of ids: the inverse of Encode for byte-level
// tokenizers; for SentencePiece-style ones "▁" becomes a space and
// <0xXX> tokens their bytes (the leading space of the first word kept).
func (t *Tokenizer) Decode(ids []int) string {
	var raw []byte
	for _, id := range ids {
		tok, ok := t.tokens[id]
		if !ok {
			continue
		}
		if t.added.isAdded(id) {
			raw = append(raw, tok...)
			continue
		}
		if t.byteLevel {
			for _, r := range tok {
				if c, ok := byteOfRune[r]; ok {
					raw = append(raw, c)
				}
			}
			continue
		}
		if c, ok := fallbackByte(tok); ok {
			raw = append(raw, c)
			continue
		}
		raw = append(raw, strings.ReplaceAll(tok, "▁", " ")...)
	}
	return string(raw)
}

// cached returns the cached ids of word.
func (t *Tokenizer) cached(word string) ([]int, bool) {
	if len(word) > maxCachedWord {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ids, ok := t.cache[word]
	return ids, ok
}

func (t *Tokenizer) store(word string, ids []int) {
	if len(word) > maxCachedWord {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.cache) >= maxCacheEntries {
		clear(t.cache) // simpler than LRU; a text's words repopulate it
	}
	t.cache[word] = ids
}
