package sim

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/enginelog"
)

// promptOf is a completion prompt of exactly n tokens.
func promptOf(seed uint64, n int) string { return newTokenizer(32064).decode(tokens(seed, n)) }

// complete sends a completion and returns its usage.
func complete(t *testing.T, url string, body map[string]any) usage {
	t.Helper()
	resp, b := postJSON(t, url+"/v1/completions", body)
	return decodeAs[completionResp](t, resp, b).Usage
}

// A repeated 256-token prompt hits its 15 full blocks but the last (the
// last token is recomputed): 240 tokens, on /metrics, in usage with
// --enable-prompt-tokens-details, and in the periodic log line.
func TestPrefixCacheOverHTTP(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096", "--time-scale", "0", "--enable-prompt-tokens-details")
	prompt := promptOf(1, 256)
	if u := complete(t, s.url, map[string]any{"prompt": prompt, "max_tokens": 4}); u.PromptTokens != 256 || u.PromptTokensDetails != nil {
		t.Errorf("first request: usage %+v, want 256 prompt tokens and no details (vLLM leaves a zero hit out)", u)
	}
	if u := complete(t, s.url, map[string]any{"prompt": prompt, "max_tokens": 4}); u.PromptTokensDetails == nil || u.PromptTokensDetails.CachedTokens != 240 {
		t.Errorf("repeated request: usage %+v, want prompt_tokens_details.cached_tokens 240", u)
	}
	resp, body := postJSON(t, s.url+"/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 4, "stream": true, "stream_options": map[string]any{"include_usage": true}})
	events, done, err := readSSE(strings.NewReader(string(body)))
	if err != nil || !done || resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v, done %v, status %d", err, done, resp.StatusCode)
	}
	if u := events[len(events)-1].Usage; u == nil || u.PromptTokensDetails == nil || u.PromptTokensDetails.CachedTokens != 240 {
		t.Errorf("streamed repeat: final usage %+v, want cached_tokens 240", u)
	}

	fams := scrape(t, s.url)
	lbl := map[string]string{"model_name": "microsoft/Phi-3-mini-4k-instruct", "engine": "0"}
	if q, h := value(t, fams, "vllm:prefix_cache_queries_total", lbl), value(t, fams, "vllm:prefix_cache_hits_total", lbl); q != 3*256 || h != 2*240 {
		t.Errorf("counters: queries %v, hits %v; want %d and %d", q, h, 3*256, 2*240)
	}
	if ci := labelMap(fams["vllm:cache_config_info"].GetMetric()[0]); ci["enable_prefix_caching"] != "True" {
		t.Errorf("cache_config_info enable_prefix_caching=%q, want True (vLLM V1's default)", ci["enable_prefix_caching"])
	}
	if !strings.Contains(s.stdout.String(), "enable_prefix_caching=True") {
		t.Error("the engine config line does not say enable_prefix_caching=True")
	}

	// The periodic stats line (every 5 s while there was traffic).
	line := regexp.MustCompile(`Prefix cache hit rate: ([0-9.]+)%`)
	deadline := time.Now().Add(10 * time.Second)
	for !line.MatchString(s.stdout.String()) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	m := line.FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no periodic stats line in 10 s; log:\n%s", s.stdout)
	}
	if want := "62.5"; m[1] != want { // 480 of 768 tokens
		t.Errorf("logged hit rate %s%%, want %s%%", m[1], want)
	}
	// The measure step reads it with the vllm log preset.
	res, err := enginelog.Extract(s.stdout.String(), enginelog.VLLM)
	if err != nil || res.Values["prefix_cache_hit_pct"] != 62.5 {
		t.Errorf("the vllm log preset reads prefix_cache_hit_pct=%v (%v), want 62.5", res.Values["prefix_cache_hit_pct"], err)
	}
}

func TestNoPrefixCacheHitsWhenDisabled(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096", "--time-scale", "0",
		"--no-enable-prefix-caching", "--enable-prompt-tokens-details")
	prompt := promptOf(2, 256)
	for range 2 {
		if u := complete(t, s.url, map[string]any{"prompt": prompt, "max_tokens": 4}); u.PromptTokensDetails != nil {
			t.Errorf("usage %+v with prefix caching off", u)
		}
	}
	fams := scrape(t, s.url)
	lbl := map[string]string{"engine": "0"}
	if q, h := value(t, fams, "vllm:prefix_cache_queries_total", lbl), value(t, fams, "vllm:prefix_cache_hits_total", lbl); q != 0 || h != 0 {
		t.Errorf("counters with prefix caching off: queries %v, hits %v; want 0 (vLLM skips the lookup)", q, h)
	}
	if ci := labelMap(fams["vllm:cache_config_info"].GetMetric()[0]); ci["enable_prefix_caching"] != "False" {
		t.Errorf("cache_config_info enable_prefix_caching=%q, want False", ci["enable_prefix_caching"])
	}
}

// /reset_prefix_cache is a development endpoint: vLLM serves it only with
// VLLM_SERVER_DEV_MODE=1.
func TestResetPrefixCacheNeedsDevMode(t *testing.T) {
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096", "--time-scale", "0")
	if resp, _ := postJSON(t, s.url+"/reset_prefix_cache", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without VLLM_SERVER_DEV_MODE: status %d, want 404", resp.StatusCode)
	}

	t.Setenv("VLLM_SERVER_DEV_MODE", "1")
	s = startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096", "--time-scale", "0", "--enable-prompt-tokens-details")
	prompt := promptOf(3, 100)
	complete(t, s.url, map[string]any{"prompt": prompt, "max_tokens": 2})
	if resp, body := postJSON(t, s.url+"/reset_prefix_cache", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("reset: status %d %s", resp.StatusCode, body)
	}
	if u := complete(t, s.url, map[string]any{"prompt": prompt, "max_tokens": 2}); u.PromptTokensDetails != nil {
		t.Errorf("after a reset the repeated prompt still hit: %+v", u.PromptTokensDetails)
	}
	if !strings.Contains(s.stdout.String(), "Resetting prefix cache...") {
		t.Error("no \"Resetting prefix cache...\" log line")
	}
}

// Requests with different cache_salt values share no cached block.
func TestCacheSaltSeparatesPrefixes(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096", "--time-scale", "0", "--enable-prompt-tokens-details")
	prompt := promptOf(4, 100)
	cached := func(salt string) int {
		body := map[string]any{"prompt": prompt, "max_tokens": 2}
		if salt != "" {
			body["cache_salt"] = salt
		}
		if u := complete(t, s.url, body); u.PromptTokensDetails != nil {
			return u.PromptTokensDetails.CachedTokens
		}
		return 0
	}
	for i, tc := range []struct {
		salt string
		want int
	}{{"a", 0}, {"b", 0}, {"", 0}, {"a", 96}, {"", 96}} {
		if got := cached(tc.salt); got != tc.want {
			t.Errorf("request %d (salt %q): cached_tokens %d, want %d", i, tc.salt, got, tc.want)
		}
	}
	resp, body := postJSON(t, s.url+"/v1/completions", map[string]any{"prompt": prompt, "cache_salt": ""})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "cache_salt") {
		t.Errorf("empty cache_salt: status %d %s, want 400", resp.StatusCode, body)
	}
}

// A later chat turn carries the reply, which tokenizes to the ids that were
// generated, so it hits the cached blocks of the first turn's prompt and
// reply: every full block of the tokens whose KV was computed (all but the
// last sampled token).
func TestLaterChatTurnHitsTheCachedReply(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "4096", "--time-scale", "0", "--enable-prompt-tokens-details")
	msgs := []map[string]string{{"role": "system", "content": "You answer in one paragraph."}, {"role": "user", "content": promptOf(5, 90)}}
	resp, body := postJSON(t, s.url+"/tokenize", map[string]any{"messages": msgs})
	p1 := decodeAs[tokenizeResp](t, resp, body).Count
	const replyTokens = 40
	resp, body = postJSON(t, s.url+"/v1/chat/completions", map[string]any{"messages": msgs, "max_tokens": replyTokens, "ignore_eos": true})
	first := decodeAs[completionResp](t, resp, body)
	reply := first.Choices[0].Message.Content

	resp, body = postJSON(t, s.url+"/tokenize", map[string]any{"prompt": reply})
	if n := decodeAs[tokenizeResp](t, resp, body).Count; n != replyTokens {
		t.Fatalf("the %d-token reply %q tokenizes to %d tokens", replyTokens, reply, n)
	}
	msgs = append(msgs, map[string]string{"role": "assistant", "content": reply}, map[string]string{"role": "user", "content": "Shorter, please."})
	resp, body = postJSON(t, s.url+"/v1/chat/completions", map[string]any{"messages": msgs, "max_tokens": 4})
	second := decodeAs[completionResp](t, resp, body)
	want := (p1 + replyTokens - 1) / 16 * 16
	if d := second.Usage.PromptTokensDetails; d == nil || d.CachedTokens != want {
		t.Errorf("turn 2 (prompt %d tokens after a %d-token turn 1): details %+v, want cached_tokens %d", second.Usage.PromptTokens, p1, d, want)
	}
}
