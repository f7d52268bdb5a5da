package sim

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CharsPerToken is the chunk size of the simulator's tokenizer, which is
// deterministic and cheap, not a model's real one: text splits into chunks
// of CharsPerToken Unicode code points (the last may be shorter), one token
// each, so a prompt of c characters is ceil(c / CharsPerToken) tokens. A
// chunk of CharsPerToken letters from pieceAlphabet is the base-32 spelling
// of its id (when below the vocabulary size); any other chunk's id is a
// hash of it. Detokenize spells each id that way, so
// tokenize(detokenize(ids)) == ids for every valid id list: a client builds
// a prompt of exactly N tokens from any N ids.
const CharsPerToken = 4

// pieceAlphabet spells token ids, CharsPerToken symbols of 5 bits each
// (most significant first): 32^4 ids, more than any model's vocabulary.
const pieceAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEF"

// maxSpelledVocab is the number of ids CharsPerToken symbols can spell.
const maxSpelledVocab = 1 << (5 * CharsPerToken)

// defaultVocab is the vocabulary of a model config without vocab_size.
const defaultVocab = 32000

// Template token ids, ChatML-like: <|im_start|> role \n content <|im_end|>.
// The generation prompt is the first three tokens of an assistant message,
// so a later turn that carries the reply shares that prefix.
const (
	bosID       = 1 // an empty completion prompt is this one token
	imStartID   = 2
	imEndID     = 3
	newlineID   = 4
	firstFreeID = 5
)

// tokenizer is the simulator's tokenizer for a model's vocabulary.
type tokenizer struct {
	vocab int // ids are in [0, vocab)
}

func newTokenizer(vocabSize int) tokenizer {
	if vocabSize <= firstFreeID {
		vocabSize = defaultVocab
	}
	return tokenizer{vocab: min(vocabSize, maxSpelledVocab)}
}

// pieces appends the ids of text's chunks (none for empty text) and, when
// strs is not nil, the chunks themselves.
func (t tokenizer) pieces(ids []int, strs *[]string, text string) []int {
	for len(text) > 0 {
		end, n := 0, 0
		for end < len(text) && n < CharsPerToken {
			_, size := utf8.DecodeRuneInString(text[end:])
			end += size
			n++
		}
		chunk := text[:end]
		text = text[end:]
		ids = append(ids, t.chunkID(chunk))
		if strs != nil {
			*strs = append(*strs, chunk)
		}
	}
	return ids
}

func (t tokenizer) chunkID(chunk string) int {
	if len(chunk) == CharsPerToken {
		v := 0
		spelled := true
		for i := 0; i < len(chunk); i++ {
			d := symbolValue(chunk[i])
			if d < 0 {
				spelled = false
				break
			}
			v = v<<5 | d
		}
		if spelled && v < t.vocab {
			return v
		}
	}
	h := fnv.New64a()
	h.Write([]byte(chunk))
	return int(h.Sum64() % uint64(t.vocab))
}

func symbolValue(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a')
	case c >= 'A' && c <= 'F':
		return 26 + int(c-'A')
	}
	return -1
}

// spell is the text of token id (valid ids only).
func spell(id int) string {
	var b [CharsPerToken]byte
	for i := CharsPerToken - 1; i >= 0; i-- {
		b[i] = pieceAlphabet[id&31]
		id >>= 5
	}
	return string(b[:])
}

// encode is a completion prompt's ids: its chunks, or the single bosID for
// an empty prompt (so every prompt has at least one token).
func (t tokenizer) encode(text string) []int {
	ids := t.pieces(nil, nil, text)
	if len(ids) == 0 {
		ids = append(ids, bosID)
	}
	return ids
}

// count is len(encode(text)), without the ids.
func (t tokenizer) count(text string) int {
	return max(1, cdiv(utf8.RuneCountInString(text), CharsPerToken))
}

// countChat is len(encodeChat(msgs, true, false)), without the ids.
func (t tokenizer) countChat(msgs []chatTurn) int {
	n := 3
	for _, m := range msgs {
		n += 4 + cdiv(utf8.RuneCountInString(m.content), CharsPerToken)
	}
	return n
}

// roleID is the template token of a chat role.
func (t tokenizer) roleID(role string) int {
	h := fnv.New64a()
	h.Write([]byte(role))
	return firstFreeID + int(h.Sum64()%uint64(t.vocab-firstFreeID))
}

// chatTurn is one message of a chat prompt.
type chatTurn struct{ role, content string }

// encodeChat is a chat prompt's ids: per message <|im_start|> role \n
// content <|im_end|> (4 + the content's chunks), then, with generation,
// the assistant header (3). With
// continueFinal the last message stays open (no <|im_end|>, no header).
func (t tokenizer) encodeChat(msgs []chatTurn, generation, continueFinal bool) []int {
	var ids []int
	for i, m := range msgs {
		ids = append(ids, imStartID, t.roleID(m.role), newlineID)
		ids = t.pieces(ids, nil, m.content)
		if !continueFinal || i < len(msgs)-1 {
			ids = append(ids, imEndID)
		}
	}
	if generation && !continueFinal {
		ids = append(ids, imStartID, t.roleID("assistant"), newlineID)
	}
	return ids
}

// checkIDs rejects ids outside the vocabulary, with vLLM's message.
func (t tokenizer) checkIDs(ids []int) error {
	for _, id := range ids {
		if id < 0 || id >= t.vocab {
			//lint:ignore ST1005 vLLM's exact message
			return fmt.Errorf("Token id %d is out of vocabulary", id)
		}
	}
	return nil
}

// decode is the text of ids (valid ids only; see checkIDs).
func (t tokenizer) decode(ids []int) string {
	b := make([]byte, 0, len(ids)*CharsPerToken)
	for _, id := range ids {
		b = append(b, spell(id)...)
	}
	return string(b)
}

// fillerWords is the deterministic vocabulary of generated text: each
// generated token is one three-letter word and a space, exactly
// CharsPerToken characters, so a reply sent back in a later chat turn
// tokenizes to the very ids that were generated (and can hit their cached
// blocks, as a real multi-turn conversation does).
var fillerWords = strings.Fields(`the kvs hit set off key and row for gpu ram bus
all new old top low big few far own per via yet add job log net sum tag web
bit fit map run use can has its one two way day end out put see now how who
get let say too not are but was any had our`)

// fillerIndex is the fillerWords index of generated token i (1-based).
func fillerIndex(h uint64, i int) int {
	return int((h + uint64(i)*7) % uint64(len(fillerWords)))
}

// fillerToken is the text of generated token i (1-based) of a request.
func fillerToken(h uint64, i int) string {
	return fillerWords[fillerIndex(h, i)] + " "
}

// fillerIDs are the token ids of the fillerWords tokens.
func (t tokenizer) fillerIDs() []int {
	ids := make([]int, len(fillerWords))
	for i, w := range fillerWords {
		ids[i] = t.chunkID(w + " ")
	}
	return ids
}

// promptHash seeds a request's output: the same prompt (and seed) always
// gives the same text and natural length.
func promptHash(prompt string, seed int64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(prompt))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(seed, 10)))
	return h.Sum64()
}

// Output length model: without ignore_eos a request "emits EOS" after its
// natural length, 16 + h mod 240 tokens (never before min_tokens).
const (
	naturalMin  = 16
	naturalSpan = 240
)

// outputLength returns how many tokens a request generates and why it
// stops ("length" when it reaches maxTokens, "stop" at its natural end).
func outputLength(h uint64, maxTokens, minTokens int, ignoreEOS bool) (int, string) {
	if ignoreEOS {
		return maxTokens, "length"
	}
	n := max(naturalMin+int(h%naturalSpan), minTokens)
	if n >= maxTokens {
		return maxTokens, "length"
	}
	return n, "stop"
}
