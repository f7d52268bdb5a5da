package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// file is the part of tokenizer.json this package reads.
type file struct {
	AddedTokens []struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
	} `json:"added_tokens"`
	Normalizer    *component `json:"normalizer"`
	PreTokenizer  *component `json:"pre_tokenizer"`
	PostProcessor *component `json:"post_processor"`
	Model         struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"` // read once the type is known (Unigram's is a list)
		Merges                  json.RawMessage `json:"merges"`
		UnkToken                *string         `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		FuseUnk                 bool            `json:"fuse_unk"`
		ByteFallback            bool            `json:"byte_fallback"`
		IgnoreMerges            bool            `json:"ignore_merges"`
		Dropout                 *float64        `json:"dropout"`
	} `json:"model"`
}

// component is a normalizer, pre-tokenizer or post-processor: its type and
// the fields of the types this package supports.
type component struct {
	Type string `json:"type"`
	// Sequence
	Normalizers   []component `json:"normalizers"`
	PreTokenizers []component `json:"pretokenizers"`
	Processors    []component `json:"processors"`
	// Prepend, Replace
	Prepend string `json:"prepend"`
	Pattern struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content string `json:"content"`
	// ByteLevel
	AddPrefixSpace *bool `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`
	// Split
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
	// Metaspace
	Replacement   string `json:"replacement"`
	PrependScheme string `json:"prepend_scheme"`
	Split         *bool  `json:"split"`
	// TemplateProcessing
	Single []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
}

// gpt2Pattern is the regex of the ByteLevel pre-tokenizer with use_regex.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+` + lookaheadTail

func unsupported(what string, c *component) error {
	return fmt.Errorf("%w: %s %q (supported: byte-level BPE as GPT-2, Llama-3, Qwen2; SentencePiece BPE as Llama-2, Mistral, Phi-3)", ErrUnsupported, what, c.Type)
}

// build checks f is a supported shape and makes its Tokenizer.
func build(f *file) (*Tokenizer, error) {
	m := &f.Model
	if m.Type == "" && len(m.Merges) > 0 {
		m.Type = "BPE" // older files omit it
	}
	if m.Type != "BPE" {
		return nil, fmt.Errorf("%w: model type %q (only BPE is implemented; WordPiece and Unigram are not)", ErrUnsupported, m.Type)
	}
	if (m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "") || (m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "") {
		return nil, fmt.Errorf("%w: BPE with continuing_subword_prefix or end_of_word_suffix", ErrUnsupported)
	}
	if m.Dropout != nil && *m.Dropout > 0 {
		return nil, fmt.Errorf("%w: BPE dropout (not deterministic)", ErrUnsupported)
	}
	var vocab map[string]int
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil || len(vocab) == 0 {
		return nil, fmt.Errorf("the model's vocab is not a non-empty map of token to id")
	}
	t := &Tokenizer{vocab: vocab, tokens: make(map[int]string, len(vocab)+len(f.AddedTokens)), unk: -1,
		fuseUnk: m.FuseUnk, byteFallback: m.ByteFallback, ignoreMerges: m.IgnoreMerges, cache: map[string][]int{}}
	for tok, id := range vocab {
		t.tokens[id] = tok
	}
	if m.UnkToken != nil {
		id, ok := vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocab", *m.UnkToken)
		}
		t.unk = id
	}
	if err := t.readMerges(m.Merges); err != nil {
		return nil, err
	}
	var added []addedToken
	for _, a := range f.AddedTokens {
		added = append(added, addedToken{content: a.Content, id: a.ID, lstrip: a.LStrip, rstrip: a.RStrip, singleWord: a.SingleWord})
		t.tokens[a.ID] = a.Content
	}
	t.added = newAddedTokens(added)
	if err := t.readNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if err := t.readPreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.byteLevel && (t.spacesToMeta || t.prependAll || t.metaspace != nil) {
		return nil, fmt.Errorf("%w: a ByteLevel pre-tokenizer with a SentencePiece normalizer", ErrUnsupported)
	}
	if !t.byteLevel && !t.spacesToMeta && t.metaspace == nil {
		return nil, fmt.Errorf("%w: neither byte-level (ByteLevel pre-tokenizer) nor SentencePiece-style (Metaspace, or Prepend+Replace normalizer)", ErrUnsupported)
	}
	if err := t.readPostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	return t, nil
}

// readMerges ranks merges given as "a b" strings or as [a, b] pairs.
func (t *Tokenizer) readMerges(raw json.RawMessage) error {
	var pairs [][2]string
	var asStrings []string
	if err := json.Unmarshal(raw, &asStrings); err == nil {
		pairs = make([][2]string, 0, len(asStrings))
		for i, s := range asStrings {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return fmt.Errorf("merges[%d] %q is not two tokens", i, s)
			}
			pairs = append(pairs, [2]string{a, b})
		}
	} else if err := json.Unmarshal(raw, &pairs); err != nil {
		return fmt.Errorf("merges: neither strings nor pairs: %w", err)
	}
	t.merges = make(map[[2]int]merge, len(pairs))
	for rank, p := range pairs {
		a, okA := t.vocab[p[0]]
		b, okB := t.vocab[p[1]]
		id, okM := t.vocab[p[0]+p[1]]
		if !okA || !okB || !okM {
			return fmt.Errorf("merges[%d] %q %q: a token is not in the vocab", rank, p[0], p[1])
		}
		if _, dup := t.merges[[2]int{a, b}]; !dup {
			t.merges[[2]int{a, b}] = merge{rank: rank, id: id}
		}
	}
	return nil
}

func (t *Tokenizer) readNormalizer(c *component) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "Sequence":
		for i := range c.Normalizers {
			if err := t.readNormalizer(&c.Normalizers[i]); err != nil {
				return err
			}
		}
		return nil
	case "NFC":
		t.nfc = true
		return nil
	case "Prepend":
		if c.Prepend == "▁" {
			t.prependAll = true
			return nil
		}
	case "Replace":
		if c.Pattern.String != nil && *c.Pattern.String == " " && c.Content == "▁" {
			t.spacesToMeta = true
			return nil
		}
	}
	return unsupported("normalizer", c)
}

func (t *Tokenizer) readPreTokenizer(c *component) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "Sequence":
		for i := range c.PreTokenizers {
			if err := t.readPreTokenizer(&c.PreTokenizers[i]); err != nil {
				return err
			}
		}
		return nil
	case "ByteLevel":
		t.byteLevel = true
		t.addPrefixSpace = c.AddPrefixSpace != nil && *c.AddPrefixSpace
		if c.UseRegex == nil || *c.UseRegex {
			if t.split != nil {
				return fmt.Errorf("%w: a Split followed by a ByteLevel with use_regex", ErrUnsupported)
			}
			sp, err := newSplitter(gpt2Pattern)
			if err != nil {
				return err
			}
			t.split = sp
		}
		return nil
	case "Split":
		if c.Pattern.Regex == nil || c.Behavior != "Isolated" || c.Invert || t.split != nil {
			return fmt.Errorf("%w: pre-tokenizer Split other than one regex with behavior Isolated", ErrUnsupported)
		}
		sp, err := newSplitter(*c.Pattern.Regex)
		if err != nil {
			return err
		}
		t.split = sp
		return nil
	case "Metaspace":
		ms := &metaspace{replacement: c.Replacement, prepend: c.PrependScheme, split: c.Split == nil || *c.Split}
		if ms.replacement == "" {
			ms.replacement = "▁"
		}
		if ms.prepend == "" { // files before prepend_scheme: add_prefix_space
			ms.prepend = "always"
			if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
				ms.prepend = "never"
			}
		}
		t.metaspace = ms
		return nil
	}
	return unsupported("pre-tokenizer", c)
}

// readPostProcessor keeps the special tokens a TemplateProcessing puts
// around a single sequence; ByteLevel adds none.
func (t *Tokenizer) readPostProcessor(c *component) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "Sequence":
		for i := range c.Processors {
			if err := t.readPostProcessor(&c.Processors[i]); err != nil {
				return err
			}
		}
		return nil
	case "ByteLevel":
		return nil
	case "TemplateProcessing":
		seen := false
		for _, p := range c.Single {
			switch {
			case p.Sequence != nil:
				seen = true
			case p.SpecialToken != nil:
				st, ok := c.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("post_processor: special token %q is not in special_tokens", p.SpecialToken.ID)
				}
				if seen {
					t.after = append(t.after, st.IDs...)
				} else {
					t.before = append(t.before, st.IDs...)
				}
			}
		}
		return nil
	}
	return unsupported("post-processor", c)
}
