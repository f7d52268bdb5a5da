package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is one of tokenizer.json's added_tokens.
type addedToken struct {
	content    string
	id         int
	lstrip     bool // takes the whitespace before it
	rstrip     bool // takes the whitespace after it
	singleWord bool // matches only between word boundaries
}

// addedTokens matches added tokens in raw text, leftmost-longest.
type addedTokens struct {
	byFirst map[byte][]addedToken // by first byte, longest first
	ids     map[int]bool
}

func newAddedTokens(list []addedToken) addedTokens {
	a := addedTokens{byFirst: map[byte][]addedToken{}, ids: map[int]bool{}}
	for _, t := range list {
		if t.content == "" {
			continue
		}
		a.byFirst[t.content[0]] = append(a.byFirst[t.content[0]], t)
		a.ids[t.id] = true
	}
	for _, l := range a.byFirst {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].content) > len(l[j].content) })
	}
	return a
}

func (a addedTokens) isAdded(id int) bool { return a.ids[id] }

// segment is a piece of input: an added token (id >= 0) or text to encode.
type segment struct {
	text string
	id   int
}

// split cuts s around its added tokens.
func (a addedTokens) split(s string) []segment {
	if len(a.byFirst) == 0 {
		return []segment{{text: s, id: -1}}
	}
	var out []segment
	start := 0 // of the pending text
	for i := 0; i < len(s); {
		tok, ok := a.matchAt(s, i)
		if !ok {
			i++
			continue
		}
		from, to := i, i+len(tok.content)
		if tok.lstrip {
			for from > start {
				r, n := utf8.DecodeLastRuneInString(s[start:from])
				if !unicode.IsSpace(r) {
					break
				}
				from -= n
			}
		}
		if tok.rstrip {
			for to < len(s) {
				r, n := utf8.DecodeRuneInString(s[to:])
				if !unicode.IsSpace(r) {
					break
				}
				to += n
			}
		}
		if from > start {
			out = append(out, segment{text: s[start:from], id: -1})
		}
		out = append(out, segment{id: tok.id})
		start, i = to, to
	}
	if start < len(s) {
		out = append(out, segment{text: s[start:], id: -1})
	}
	return out
}

// matchAt returns the longest added token starting at s[i:].
func (a addedTokens) matchAt(s string, i int) (addedToken, bool) {
	for _, t := range a.byFirst[s[i]] {
		if !strings.HasPrefix(s[i:], t.content) {
			continue
		}
		if t.singleWord && !(wordBoundary(s, i) && wordBoundary(s, i+len(t.content))) {
			continue
		}
		return t, true
	}
	return addedToken{}, false
}

// wordBoundary reports whether position i of s is not inside a word.
func wordBoundary(s string, i int) bool {
	if i == 0 || i == len(s) {
		return true
	}
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	after, _ := utf8.DecodeRuneInString(s[i:])
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
	return !isWord(before) || !isWord(after)
}
