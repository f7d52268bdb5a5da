package gguf

import "fmt"

// Token types (llama_token_type in llama.cpp).
const (
	TokenNormal  int32 = 1
	TokenUnknown int32 = 2
	TokenControl int32 = 3
	TokenByte    int32 = 6
)

// Special token ids of the generated vocabulary.
const (
	UnkID = 0
	BOSID = 1
	EOSID = 2
	// FirstByteID is the id of <0x00>; byte b is FirstByteID+b.
	FirstByteID = 3
	// FirstWordID is the first normal (word-piece) token.
	FirstWordID = FirstByteID + 256
)

// spaceMark is SentencePiece's word-boundary marker (U+2581).
const spaceMark = "\u2581"

var commonWords = []string{
	"the", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on",
	"are", "as", "with", "his", "they", "at", "be", "this", "have", "from",
	"or", "one", "had", "by", "word", "but", "not", "what", "all", "were",
	"we", "when", "your", "can", "said", "there", "use", "an", "each",
	"which", "she", "do", "how", "their", "if", "will", "up", "other",
	"about", "out", "many", "then", "them", "these", "so", "some", "her",
	"would", "make", "like", "him", "into", "time", "has", "look", "two",
	"more", "write", "go", "see", "number", "no", "way", "could", "people",
	"my", "than", "first", "water", "been", "call", "who", "oil", "its",
	"now", "find", "long", "down", "day", "did", "get", "come", "made",
	"may", "part", "once", "upon", "story", "model", "token",
}

// Vocab is a SentencePiece ("llama") vocabulary with byte fallback.
type Vocab struct {
	Tokens []string
	Scores []float32
	Types  []int32
}

// Emittable reports whether the generated output layer lets the model emit
// token id: word pieces that decode to at least one visible character.
func (v *Vocab) Emittable(id int) bool {
	return v.Types[id] == TokenNormal && v.Tokens[id] != spaceMark
}

// NewVocab builds a deterministic vocabulary of exactly n tokens: <unk>,
// <s>, </s>, the 256 byte tokens <0x00>…<0xFF>, then word pieces. Pieces are
// added so that every multi-character piece's prefix is also a piece, which
// lets SentencePiece's bigram merging reach them when tokenizing prompts.
func NewVocab(n int) (*Vocab, error) {
	if n < MinVocab {
		return nil, fmt.Errorf("gguf: vocab must be at least %d, got %d", MinVocab, n)
	}
	v := &Vocab{
		Tokens: make([]string, 0, n),
		Scores: make([]float32, 0, n),
		Types:  make([]int32, 0, n),
	}
	seen := make(map[string]bool, n)
	add := func(tok string, typ int32) bool {
		if len(v.Tokens) >= n || seen[tok] {
			return len(v.Tokens) < n
		}
		seen[tok] = true
		v.Tokens = append(v.Tokens, tok)
		v.Types = append(v.Types, typ)
		// SentencePiece scores: earlier pieces merge first.
		var score float32
		if typ == TokenNormal {
			score = -float32(len(v.Tokens) - FirstWordID)
		}
		v.Scores = append(v.Scores, score)
		return len(v.Tokens) < n
	}
	add("<unk>", TokenUnknown)
	add("<s>", TokenControl)
	add("</s>", TokenControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), TokenByte)
	}
	add(spaceMark, TokenNormal)
	for c := byte('!'); c <= '~'; c++ {
		add(string(c), TokenNormal)
	}
	for c := byte('a'); c <= 'z'; c++ {
		add(spaceMark+string(c), TokenNormal)
	}
	for c := byte('A'); c <= 'Z'; c++ {
		add(spaceMark+string(c), TokenNormal)
	}
	for _, w := range commonWords {
		for k := 2; k <= len(w); k++ {
			add(spaceMark+w[:k], TokenNormal)
		}
	}
	// Fill with "▁" + lowercase strings in breadth-first order, so every
	// piece's prefix precedes it.
	level := make([]string, 0, 26)
	for c := byte('a'); c <= 'z'; c++ {
		level = append(level, string(c))
	}
	for len(v.Tokens) < n {
		next := make([]string, 0, len(level)*26)
		for _, p := range level {
			for c := byte('a'); c <= 'z'; c++ {
				w := p + string(c)
				next = append(next, w)
				if !add(spaceMark+w, TokenNormal) {
					return v, nil
				}
			}
		}
		level = next
	}
	return v, nil
}
