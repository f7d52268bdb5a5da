package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// runeOfByte is GPT-2's bytes_to_unicode: printable Latin-1 bytes map to
// themselves, the others to U+0100 onwards, so every byte is a visible
// character; byteOfRune is its inverse.
var runeOfByte, byteOfRune = byteLevelTables()

func byteLevelTables() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	back := make(map[rune]byte, 256)
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			fwd[b] = rune(b)
		} else {
			fwd[b] = rune(256 + n)
			n++
		}
		back[fwd[b]] = byte(b)
	}
	return fwd, back
}

// byteLevelString maps each byte of s to its byte-level character.
func byteLevelString(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(runeOfByte[s[i]])
	}
	return b.String()
}

func nfc(s string) string { return norm.NFC.String(s) }

// whitespace is Unicode's White_Space, which the Rust library's \s means
// (Go's \s is ASCII only).
const whitespace = `\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

func isSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

// lookaheadTail is how GPT-2's, Llama-3's and Qwen2's split regexes end:
// a whitespace run not followed by a non-space (Go's regexp has no
// lookahead), else any whitespace run. splitter implements it by hand.
const lookaheadTail = `|\s+(?!\S)|\s+`

// splitter cuts text into the pieces a Split pre-tokenizer with behavior
// Isolated makes: every regex match a piece, and every run between
// matches a piece.
type splitter struct {
	head *regexp.Regexp // the alternatives before lookaheadTail, anchored
	tail bool           // the pattern ended with lookaheadTail
}

// newSplitter compiles a tokenizer.json split pattern for Go: \s is made
// Unicode, and the lookahead tail is handled by pieces.
func newSplitter(pattern string) (*splitter, error) {
	s := &splitter{}
	if strings.HasSuffix(pattern, lookaheadTail) {
		s.tail = true
		pattern = strings.TrimSuffix(pattern, lookaheadTail)
	}
	if strings.Contains(pattern, "(?=") || strings.Contains(pattern, "(?!") || strings.Contains(pattern, "(?<") {
		return nil, fmt.Errorf("%w: the split regex %q has a lookaround other than the GPT-2 %q", ErrUnsupported, pattern, lookaheadTail)
	}
	re, err := regexp.Compile(`^(?:` + unicodeSpaces(pattern) + `)`)
	if err != nil {
		return nil, fmt.Errorf("%w: the split regex: %v", ErrUnsupported, err)
	}
	s.head = re
	return s, nil
}

// unicodeSpaces rewrites \s as Unicode whitespace, inside a character
// class or outside one; \S is refused by the caller's lookaround check
// or rewritten the same way.
func unicodeSpaces(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			switch p[i+1] {
			case 's':
				if inClass {
					b.WriteString(whitespace)
				} else {
					b.WriteString("[" + whitespace + "]")
				}
			case 'S':
				if inClass {
					b.WriteString(`\S`) // rare; Go's ASCII meaning
				} else {
					b.WriteString("[^" + whitespace + "]")
				}
			default:
				b.WriteByte(c)
				b.WriteByte(p[i+1])
			}
			i++
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pieces splits s. At each position the pattern's alternatives are tried
// in order (leftmost-first, as the Rust library's regex), then the tail:
// a whitespace run followed by more text leaves its last character to the
// next piece (`\s+(?!\S)`), unless it is one character (`\s+`).
func (sp *splitter) pieces(s string) []string {
	var out []string
	gap := -1 // start of a run no alternative matched
	flushGap := func(end int) {
		if gap >= 0 {
			out = append(out, s[gap:end])
			gap = -1
		}
	}
	for i := 0; i < len(s); {
		if loc := sp.head.FindStringIndex(s[i:]); loc != nil && loc[1] > 0 {
			flushGap(i)
			out = append(out, s[i:i+loc[1]])
			i += loc[1]
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if sp.tail && isSpace(r) {
			flushGap(i)
			end, last := i, i
			for end < len(s) {
				r, n := utf8.DecodeRuneInString(s[end:])
				if !isSpace(r) {
					break
				}
				last = end
				end += n
			}
			if end < len(s) && last > i {
				end = last
			}
			out = append(out, s[i:end])
			i = end
			continue
		}
		if gap < 0 {
			gap = i
		}
		i += size
	}
	flushGap(len(s))
	return out
}

// metaspace is the Metaspace pre-tokenizer: spaces become the replacement
// character, one is prepended (always, or to the input's first segment),
// and with split each piece starts at a replacement character.
type metaspace struct {
	replacement string
	prepend     string // always, first or never
	split       bool
}

func (m *metaspace) pieces(s string, first bool) []string {
	s = strings.ReplaceAll(s, " ", m.replacement)
	if (m.prepend == "always" || (m.prepend == "first" && first)) && !strings.HasPrefix(s, m.replacement) {
		s = m.replacement + s
	}
	if !m.split {
		return []string{s}
	}
	var out []string
	start := 0
	for i := 0; i < len(s); {
		if i > start && strings.HasPrefix(s[i:], m.replacement) {
			out = append(out, s[start:i])
			start = i
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return append(out, s[start:])
}
