package sim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestDetokenizedIDsTokenizeBackToThemselves(t *testing.T) {
	for _, vocab := range []int{32064, 151936, 262208} {
		tok := newTokenizer(vocab)
		ids := append(tokens(3, 500), 0, 1, vocab-1)
		text := tok.decode(ids)
		if got := tok.encode(text); !slices.Equal(got, ids) {
			t.Errorf("vocab %d: encode(decode(ids)) differs from ids", vocab)
		}
	}
}

func TestTokenCountIsCeilOfCharactersOverFour(t *testing.T) {
	tok := newTokenizer(32064)
	for _, tc := range []struct {
		text string
		want int
	}{{"", 1}, {"a", 1}, {"abcd", 1}, {"abcde", 2}, {"héllo wörld", 3}, {strings.Repeat("日本", 10), 5}} {
		if got, n := len(tok.encode(tc.text)), tok.count(tc.text); got != tc.want || n != tc.want {
			t.Errorf("%q: %d tokens (counted %d), want %d", tc.text, got, n, tc.want)
		}
	}
	// Chat: 4 per message (3 of header, 1 closing), 3 for the reply header.
	turns := []chatTurn{{"system", "You are terse."}, {"user", ""}, {"user", "hello there"}}
	if got, n, want := len(tok.encodeChat(turns, true, false)), tok.countChat(turns), 3+(4+4)+4+(4+3); got != want || n != want {
		t.Errorf("chat prompt: %d tokens (counted %d), want %d", got, n, want)
	}
}

// A later chat turn shares the earlier turn's prompt tokens up to the
// reply header, as with a real chat template.
func TestChatTurnsSharePrefix(t *testing.T) {
	tok := newTokenizer(32064)
	first := []chatTurn{{"system", "You are terse."}, {"user", "What is paged attention?"}}
	one := tok.encodeChat(first, true, false)
	two := tok.encodeChat(append(first, chatTurn{"assistant", "Blocks."}, chatTurn{"user", "And?"}), true, false)
	if !slices.Equal(two[:len(one)], one) {
		t.Errorf("turn 2 does not start with turn 1's prompt:\n%v\n%v", one, two[:len(one)])
	}
}

// tokenizeResp is vLLM's TokenizeResponse.
type tokenizeResp struct {
	Count       int      `json:"count"`
	MaxModelLen int      `json:"max_model_len"`
	Tokens      []int    `json:"tokens"`
	TokenStrs   []string `json:"token_strs"`
}

func decodeAs[T any](t *testing.T, resp *http.Response, body []byte) T {
	t.Helper()
	var v T
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

// A client builds a prompt of exactly N tokens from /detokenize, and
// completions counts it as N.
func TestPromptOfExactlyNTokensOverHTTP(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096", "--time-scale", "0")
	const model = "microsoft/Phi-3-mini-4k-instruct"
	for _, n := range []int{1, 17, 256, 3000} {
		ids := tokens(uint64(n), n)
		resp, body := postJSON(t, s.url+"/detokenize", map[string]any{"model": model, "tokens": ids})
		prompt := decodeAs[struct {
			Prompt string `json:"prompt"`
		}](t, resp, body).Prompt

		resp, body = postJSON(t, s.url+"/tokenize", map[string]any{"model": model, "prompt": prompt})
		tr := decodeAs[tokenizeResp](t, resp, body)
		if tr.Count != n || !slices.Equal(tr.Tokens, ids) || tr.MaxModelLen != 4096 {
			t.Errorf("N=%d: tokenize(detokenize(ids)) = count %d, max_model_len %d, same ids %v", n, tr.Count, tr.MaxModelLen, slices.Equal(tr.Tokens, ids))
		}
		resp, body = postJSON(t, s.url+"/v1/completions", map[string]any{"model": model, "prompt": prompt, "max_tokens": 2})
		if c := decodeAs[completionResp](t, resp, body); c.Usage.PromptTokens != n {
			t.Errorf("N=%d: completions reports prompt_tokens %d", n, c.Usage.PromptTokens)
		}
	}
	// A chat prompt counts the same in /tokenize and in chat completions.
	msgs := []map[string]string{{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why page the KV cache?"}}
	resp, body := postJSON(t, s.url+"/tokenize", map[string]any{"model": model, "messages": msgs})
	tr := decodeAs[tokenizeResp](t, resp, body)
	resp, body = postJSON(t, s.url+"/v1/chat/completions", map[string]any{"model": model, "messages": msgs, "max_tokens": 2})
	if c := decodeAs[completionResp](t, resp, body); c.Usage.PromptTokens != tr.Count {
		t.Errorf("chat: /tokenize counts %d, chat completions %d", tr.Count, c.Usage.PromptTokens)
	}
	resp, body = postJSON(t, s.url+"/tokenize", map[string]any{"model": model, "prompt": "héllo!", "return_token_strs": true})
	if tr := decodeAs[tokenizeResp](t, resp, body); !slices.Equal(tr.TokenStrs, []string{"héll", "o!"}) {
		t.Errorf("token_strs %q, want the two chunks", tr.TokenStrs)
	}
}

func TestTokenizerErrorsAreVLLMShaped(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "1024", "--time-scale", "0")
	for _, tc := range []struct {
		path string
		body map[string]any
		code int
		msg  string
	}{
		{"/detokenize", map[string]any{"tokens": []int{5, 32064}}, 400, "Token id 32064 is out of vocabulary"},
		{"/v1/completions", map[string]any{"prompt": []int{-1}, "max_tokens": 1}, 400, "Token id -1 is out of vocabulary"},
		{"/tokenize", map[string]any{"messages": []map[string]string{{"role": "user", "content": "x"}}, "continue_final_message": true}, 400, "Cannot set both"},
		{"/tokenize", map[string]any{}, 400, "either prompt or messages"},
		{"/tokenize", map[string]any{"model": "nope", "prompt": "x"}, 404, "The model `nope` does not exist."},
		{"/v1/completions", map[string]any{"prompt": strings.Repeat("abcd", 1024), "max_tokens": 1}, 400, "maximum context length is 1024 tokens"},
	} {
		resp, body := postJSON(t, s.url+tc.path, tc.body)
		var e struct {
			Error apiError `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tc.code || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.msg) {
			t.Errorf("%s %v: status %d %s; want %d with %q", tc.path, tc.body, resp.StatusCode, body, tc.code, tc.msg)
		}
	}
	// vLLM tokenizes a prompt longer than the context without complaint.
	resp, body := postJSON(t, s.url+"/tokenize", map[string]any{"prompt": strings.Repeat("abcd", 2000)})
	if tr := decodeAs[tokenizeResp](t, resp, body); tr.Count != 2000 {
		t.Errorf("an over-long prompt tokenizes to %d tokens, want 2000", tr.Count)
	}
}
