package tokenizer

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// spmJSON is a tiny SentencePiece-style BPE: "▁hi" by two merges, "é" only
// as byte-fallback tokens, <s> added by the post-processor.
func spmJSON(normalizer, preTokenizer string) string {
	return `{"added_tokens":[{"id":0,"content":"<unk>","special":true},{"id":1,"content":"<s>","special":true},{"id":2,"content":"</s>","special":true}],
	"normalizer":` + normalizer + `,"pre_tokenizer":` + preTokenizer + `,
	"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
		"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
	"model":{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,
		"vocab":{"<unk>":0,"<s>":1,"</s>":2,"<0xC3>":3,"<0xA9>":4,"▁":5,"h":6,"i":7,"▁h":8,"▁hi":9},
		"merges":["▁ h","▁h i"]}}`
}

func TestSentencePieceShapesEncodeAlike(t *testing.T) {
	for name, js := range map[string]string{
		"Prepend+Replace normalizer": spmJSON(`{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}`, `null`),
		"Metaspace pre-tokenizer":    spmJSON(`null`, `{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`),
		"Metaspace without split":    spmJSON(`null`, `{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false}`),
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := Parse(strings.NewReader(js))
			if err != nil {
				t.Fatal(err)
			}
			// "é" has no token of its own: its two UTF-8 bytes' tokens.
			if got, want := tok.Encode("hi hi é", true), []int{1, 9, 9, 5, 3, 4}; !slices.Equal(got, want) {
				t.Errorf("Encode = %v, want %v", got, want)
			}
			if got, want := tok.Encode("hi", false), []int{9}; !slices.Equal(got, want) {
				t.Errorf("Encode without special tokens = %v, want %v", got, want)
			}
			// "x" and "y" are unknown and have no byte tokens: one fused <unk>.
			if got, want := tok.Encode("hixy", false), []int{9, 0}; !slices.Equal(got, want) {
				t.Errorf("Encode(hixy) = %v, want %v", got, want)
			}
			if got, want := tok.Decode([]int{1, 9, 9, 5, 3, 4}), "<s> hi hi é"; got != want {
				t.Errorf("Decode = %q, want %q", got, want)
			}
		})
	}
}

func TestAddedTokensAreMatchedBeforeTheModel(t *testing.T) {
	tok, err := Parse(strings.NewReader(spmJSON(`null`, `{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}`)))
	if err != nil {
		t.Fatal(err)
	}
	// prepend_scheme first: only the text before the first added token
	// gets "▁".
	if got, want := tok.Encode("hi</s>hi", false), []int{9, 2, 6, 7}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestUnsupportedTokenizersAreRefusedByName(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"model":{"type":"WordPiece","vocab":{"a":0}}}`, `model type "WordPiece"`},
		{`{"model":{"type":"Unigram","vocab":[["a",0]]}}`, `model type "Unigram"`},
		{`{"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`, `normalizer "BertNormalizer"`},
		{`{"pre_tokenizer":{"type":"Whitespace"},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`, `pre-tokenizer "Whitespace"`},
		{`{"pre_tokenizer":{"type":"ByteLevel"},"post_processor":{"type":"BertProcessing"},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`, `post-processor "BertProcessing"`},
		{`{"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a(?=b)"},"behavior":"Isolated"},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`, `lookaround`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`, `neither byte-level`},
	} {
		_, err := Parse(strings.NewReader(c.json))
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s) = %v, want ErrUnsupported naming %s", c.json, err, c.want)
		}
	}
}

func TestMalformedFilesAreErrors(t *testing.T) {
	for _, js := range []string{
		`not json`,
		`{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{},"merges":[]}}`,
		`{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`,
		`{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0},"merges":["ab"]}}`,
	} {
		if _, err := Parse(strings.NewReader(js)); err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("Parse(%s) = %v, want a malformed-file error", js, err)
		}
	}
	if _, err := Parse(strings.NewReader(`{"x":"` + strings.Repeat("a", MaxFileBytes) + `"}`)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over MaxFileBytes: %v, want refused", err)
	}
}

func TestMergesAsPairsReadLikeMergesAsStrings(t *testing.T) {
	js := strings.Replace(spmJSON(`null`, `{"type":"Metaspace"}`), `["▁ h","▁h i"]`, `[["▁","h"],["▁h","i"]]`, 1)
	tok, err := Parse(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("hi", true), []int{1, 9}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}
