package tokenizer

import (
	"container/heap"
	"fmt"
	"unicode/utf8"
)

// symbol is one token of a word being merged, in a linked list so that a
// merge is O(1).
type symbol struct {
	id         int
	prev, next int // -1: none
	gone       bool
}

// candidate is a possible merge of the symbol at pos with its next one.
type candidate struct {
	pos, rank, id int
}

// candidates is a min-heap by rank, then position: the Rust library's
// order (the lowest rank first, the leftmost among equals).
type candidates []candidate

func (c candidates) Len() int { return len(c) }
func (c candidates) Less(i, j int) bool {
	if c[i].rank != c[j].rank {
		return c[i].rank < c[j].rank
	}
	return c[i].pos < c[j].pos
}
func (c candidates) Swap(i, j int) { c[i], c[j] = c[j], c[i] }
func (c *candidates) Push(x any)   { *c = append(*c, x.(candidate)) }
func (c *candidates) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// bpeWord appends the ids of one pre-tokenized word.
func (t *Tokenizer) bpeWord(ids []int, word string) []int {
	if word == "" {
		return ids
	}
	if got, ok := t.cached(word); ok {
		return append(ids, got...)
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[word]; ok {
			t.store(word, []int{id})
			return append(ids, id)
		}
	}
	syms := t.initialSymbols(word)
	var q candidates
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := t.merges[[2]int{syms[i].id, syms[i+1].id}]; ok {
			q = append(q, candidate{pos: i, rank: m.rank, id: m.id})
		}
	}
	heap.Init(&q)
	for q.Len() > 0 {
		c := heap.Pop(&q).(candidate)
		s := &syms[c.pos]
		if s.gone || s.next < 0 {
			continue
		}
		right := &syms[s.next]
		if m, ok := t.merges[[2]int{s.id, right.id}]; !ok || m.id != c.id {
			continue // the pair changed since it was queued
		}
		s.id = c.id
		right.gone = true
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			if m, ok := t.merges[[2]int{syms[s.prev].id, s.id}]; ok {
				heap.Push(&q, candidate{pos: s.prev, rank: m.rank, id: m.id})
			}
		}
		if s.next >= 0 {
			if m, ok := t.merges[[2]int{s.id, syms[s.next].id}]; ok {
				heap.Push(&q, candidate{pos: c.pos, rank: m.rank, id: m.id})
			}
		}
	}
	start := len(ids)
	for i := 0; i >= 0 && i < len(syms); i = syms[i].next {
		ids = append(ids, syms[i].id)
	}
	t.store(word, append([]int(nil), ids[start:]...))
	return ids
}

// initialSymbols splits word into its characters' ids: a character not in
// the vocabulary becomes its UTF-8 bytes' <0xXX> tokens with byte_fallback,
// else the unknown token (consecutive ones fused with fuse_unk), else it
// is dropped, as the Rust library does.
func (t *Tokenizer) initialSymbols(word string) []symbol {
	syms := make([]symbol, 0, len(word))
	push := func(id int) {
		n := len(syms)
		syms = append(syms, symbol{id: id, prev: n - 1, next: -1})
		if n > 0 {
			syms[n-1].next = n
		}
	}
	lastUnk := false
	for i, r := range word {
		size := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, size = utf8.DecodeRuneInString(word[i:])
		}
		ch := word[i : i+size]
		if id, ok := t.vocab[ch]; ok {
			push(id)
			lastUnk = false
			continue
		}
		if t.byteFallback {
			ok := true
			var fb []int
			for j := 0; j < len(ch); j++ {
				id, found := t.vocab[fmt.Sprintf("<0x%02X>", ch[j])]
				if !found {
					ok = false
					break
				}
				fb = append(fb, id)
			}
			if ok {
				for _, id := range fb {
					push(id)
				}
				lastUnk = false
				continue
			}
		}
		if t.unk >= 0 {
			if !(t.fuseUnk && lastUnk) {
				push(t.unk)
			}
			lastUnk = true
		}
	}
	return syms
}

// fallbackByte returns the byte of a <0xXX> token.
func fallbackByte(tok string) (byte, bool) {
	if len(tok) != 6 || tok[:3] != "<0x" || tok[5] != '>' {
		return 0, false
	}
	var b byte
	for _, c := range tok[3:5] {
		b <<= 4
		switch {
		case c >= '0' && c <= '9':
			b |= byte(c - '0')
		case c >= 'A' && c <= 'F':
			b |= byte(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}
