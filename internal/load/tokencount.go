package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Counter counts the prompt tokens a server will report for a request
// carrying prompt, with the run's API (completions: the prompt with the
// tokenizer's special tokens; chat: one user message in the chat template).
type Counter interface {
	Count(ctx context.Context, prompt string) (int, error)
}

// How a Counter counts (Dataset summaries and logs say which).
const (
	CountTokenize = "tokenize" // the server's POST /tokenize (vLLM, the simulator)
	CountProbe    = "probe"    // usage.prompt_tokens of a max_tokens=1 request per count
	CountEstimate = "estimate" // no way to count: prompts are about the length asked
)

// serverTokenizer counts with vLLM's POST /tokenize: a
// TokenizeCompletionRequest {model, prompt} or TokenizeChatRequest {model,
// messages} (whose defaults, add_special_tokens for completions and
// add_generation_prompt for chat, are those of the generation requests),
// answered by a TokenizeResponse {count, max_model_len, tokens}.
type serverTokenizer struct {
	cfg Config
	hc  *http.Client
}

// tokenizeResponse is vLLM's TokenizeResponse.
type tokenizeResponse struct {
	Count       int   `json:"count"`
	MaxModelLen int   `json:"max_model_len"`
	Tokens      []int `json:"tokens"`
}

func (t serverTokenizer) Count(ctx context.Context, prompt string) (int, error) {
	body := promptShaping(t.cfg.Extra)
	body["model"] = t.cfg.Model
	if t.cfg.API == APIChat {
		body["messages"] = []map[string]string{{"role": "user", "content": prompt}}
	} else {
		body["prompt"] = prompt
	}
	var r tokenizeResponse
	status, msg, err := postJSON(ctx, t.hc, t.cfg, "/tokenize", body, &r)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("POST /tokenize: HTTP %d: %s", status, msg)
	}
	if r.Count == 0 && len(r.Tokens) > 0 {
		r.Count = len(r.Tokens)
	}
	return r.Count, nil
}

// probeCounter counts by asking: a non-streamed request with max_tokens 1,
// read back as usage.prompt_tokens.
type probeCounter struct {
	cfg Config
	hc  *http.Client
}

func (p probeCounter) Count(ctx context.Context, prompt string) (int, error) {
	probe := p.cfg
	probe.MaxTokens, probe.Stream, probe.Extra = 1, false, promptShaping(p.cfg.Extra)
	body, err := requestBody(probe, Request{Prompt: prompt})
	if err != nil {
		return 0, err
	}
	path := "/v1/completions"
	if p.cfg.API == APIChat {
		path = "/v1/chat/completions"
	}
	var r struct {
		Usage *struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	status, msg, err := postJSON(ctx, p.hc, p.cfg, path, json.RawMessage(body), &r)
	if err != nil {
		return 0, err
	}
	if status == http.StatusBadRequest && tooLong(msg) {
		return 0, errTooLong
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("probe request: HTTP %d: %s", status, msg)
	}
	if r.Usage == nil || r.Usage.PromptTokens == 0 {
		return 0, errors.New("probe request: the response has no usage.prompt_tokens")
	}
	return r.Usage.PromptTokens, nil
}

// tooLong reports whether a 400's body is vLLM's (and the simulator's)
// refusal of a prompt beyond max_model_len ("This model's maximum context
// length is 4096 tokens. However, you requested ...").
func tooLong(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "maximum context length") || strings.Contains(m, "too long")
}

// promptShapingKeys are the request fields that change how a prompt is
// tokenized (a chat template and its arguments, special tokens); counting
// requests carry them from Extra and nothing else (min_tokens, say, would
// make a max_tokens=1 probe invalid).
var promptShapingKeys = []string{"chat_template", "chat_template_kwargs", "add_generation_prompt",
	"continue_final_message", "add_special_tokens", "documents", "tools", "truncate_prompt_tokens"}

// promptShaping returns a new body holding Extra's prompt-shaping fields.
func promptShaping(extra map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range promptShapingKeys {
		if v, ok := extra[k]; ok {
			out[k] = v
		}
	}
	return out
}

// postJSON posts body to cfg.BaseURL+path and decodes a 200 answer into
// out; it returns the status, the start of any other answer's body, and an
// error only for transport or decoding failures (the API key redacted).
func postJSON(ctx context.Context, hc *http.Client, cfg Config, path string, body, out any) (int, string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", errors.New(redactIn(err.Error(), cfg.APIKey))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("POST %s: %s", path, redactIn(err.Error(), cfg.APIKey))
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, redactIn(snippet(bytes.TrimSpace(data)), cfg.APIKey), nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, "", fmt.Errorf("POST %s: %v in %s", path, err, redactIn(snippet(data), cfg.APIKey))
	}
	return resp.StatusCode, "", nil
}

// closeIdle closes a counter's idle connections once a dataset is built.
func closeIdle(c Counter) {
	switch c := c.(type) {
	case serverTokenizer:
		c.hc.CloseIdleConnections()
	case probeCounter:
		c.hc.CloseIdleConnections()
	}
}

// DetectCounter returns how to count prompt tokens as the server at
// cfg.BaseURL does, asking once: its POST /tokenize when it answers
// (vLLM), else probe requests when the server reports usage (the
// simulator before it had /tokenize, llama.cpp, Ollama), else nil with
// CountEstimate. how is one of the Count* constants.
func DetectCounter(ctx context.Context, cfg Config) (c Counter, how string, err error) {
	cfg = cfg.withDefaults()
	hc := &http.Client{Transport: newTransport(4)}
	tok := serverTokenizer{cfg: cfg, hc: hc}
	if n, err := tok.Count(ctx, "hello"); err == nil && n > 0 {
		return tok, CountTokenize, nil
	} else if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	pr := probeCounter{cfg: cfg, hc: hc}
	if _, err := pr.Count(ctx, "hello"); err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, CountEstimate, nil
	}
	return pr, CountProbe, nil
}

// errTooLong is a probe's 400: the prompt is taken to count more than any
// length wanted (the server refuses prompts beyond max_model_len).
var errTooLong = errors.New("prompt refused as too long")

// errCannotFit says no cut of the text has exactly the tokens wanted (a
// token boundary the cut cannot land on); the closest shorter cut is used.
var errCannotFit = errors.New("no cut of the text counts exactly")

// fitter cuts generated text to exact token counts with a Counter,
// learning the characters per token as it goes so that later fits start
// from a good guess (one count each when the tokenizer is regular).
type fitter struct {
	c             Counter
	charsPerToken float64
	counts        int // Count calls, for the log
}

func newFitter(c Counter) *fitter { return &fitter{c: c, charsPerToken: 4} }

// fit returns before + src[:k] for the k whose count is want, found by
// interpolation search over k (the count grows with k). src must count at
// least want with before; a src too short is an error. When no k counts
// exactly, it returns the longest cut counting less, its count and
// errCannotFit.
func (f *fitter) fit(ctx context.Context, before, src string, want int) (string, int, error) {
	count := func(k int) (int, error) {
		f.counts++
		return f.c.Count(ctx, before+src[:k])
	}
	lo, flo := 0, -1
	hi, fhi := len(src)+1, -1 // hi: a cut known to count more (len+1: "beyond the text")
	base := 0                 // tokens of before alone
	if before != "" {
		n, err := f.c.Count(ctx, before)
		if err != nil {
			return "", 0, err
		}
		f.counts++
		base, flo = n, n
	}
	guess := min(len(src), int(float64(want-base)*f.charsPerToken))
	for range 64 {
		k := guess
		if k <= lo || k >= hi {
			k = lo + (hi-lo)/2
		}
		if k <= lo || k >= hi {
			break
		}
		n, err := count(k)
		if errors.Is(err, errTooLong) {
			hi, fhi, guess = k, -1, lo+(k-lo)/2
			continue
		}
		if err != nil {
			return "", 0, err
		}
		if n == want {
			if tokens := want - base; k > 0 && tokens > 0 {
				f.charsPerToken = 0.5*f.charsPerToken + 0.5*float64(k)/float64(tokens)
			}
			return before + src[:k], n, nil
		}
		if n < want {
			lo, flo = k, n
		} else {
			hi, fhi = k, n
		}
		// Interpolate between the bounds when both counts are known, else
		// step by the learned ratio.
		switch {
		case flo >= 0 && fhi > flo:
			guess = lo + int(float64(want-flo)*float64(hi-lo)/float64(fhi-flo))
		case n < want:
			guess = k + max(1, int(float64(want-n)*f.charsPerToken))
		default:
			guess = k - max(1, int(float64(n-want)*f.charsPerToken))
		}
	}
	if hi > len(src) {
		return "", 0, fmt.Errorf("generated text of %d characters counts fewer than %d tokens", len(src), want)
	}
	if flo < 0 {
		n, err := count(lo)
		if err != nil {
			return "", 0, err
		}
		flo = n
	}
	return before + src[:lo], flo, errCannotFit
}

// wordText returns a deterministic run of filler words long enough to
// count at least tokens tokens under any tokenizer that spends at most one
// token per character (the fitter cuts it).
func wordText(r interface{ IntN(int) int }, tokens int) string {
	var b strings.Builder
	// Each word is at least 2 characters with its space; a tokenizer with
	// fewer than 1 token per 2 characters needs more words than tokens.
	target := 8*tokens + 64
	b.Grow(target + 16)
	for b.Len() < target {
		b.WriteByte(' ')
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}
