package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics with Prometheus' own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// value returns the sample of a counter or gauge family whose labels
// include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("/metrics lacks %s", name)
	}
	for _, m := range f.GetMetric() {
		l := labelMap(m)
		match := true
		for k, v := range want {
			if l[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("%s has no sample with labels %v", name, want)
	return 0
}

func histCount(t *testing.T, fams map[string]*dto.MetricFamily, name string) uint64 {
	t.Helper()
	f, ok := fams[name]
	if !ok || f.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("/metrics lacks histogram %s", name)
	}
	return f.GetMetric()[0].GetHistogram().GetSampleCount()
}

type completionResp struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
		Message      *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage usage `json:"usage"`
}

func TestHTTPEndpoints(t *testing.T) {
	t.Parallel()
	const model = "Qwen/Qwen2.5-0.5B-Instruct"
	s := startSim(t, model, "--max-model-len", "2048", "--time-scale", "0.1", "--served-model-name", "qwen")

	resp, err := http.Get(s.url + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health: %v %v", resp, err)
	}
	resp.Body.Close()

	var totalPrompt, totalGen int

	t.Run("completion-ignore-eos", func(t *testing.T) {
		resp, body := postJSON(t, s.url+"/v1/completions", map[string]any{
			"model": "qwen", "prompt": "Explain memory fragmentation in one short sentence.", "max_tokens": 40, "ignore_eos": true,
		})
		var c completionResp
		if resp.StatusCode != 200 || json.Unmarshal(body, &c) != nil {
			t.Fatalf("%s: %s", resp.Status, body)
		}
		if c.Object != "text_completion" || len(c.Choices) != 1 || c.Choices[0].FinishReason != "length" ||
			c.Usage.CompletionTokens != 40 || len(strings.Fields(c.Choices[0].Text)) != 40 || c.Usage.PromptTokens != 13 || c.Usage.TotalTokens != 53 {
			t.Errorf("completion = %s", body)
		}
		totalPrompt += c.Usage.PromptTokens
		totalGen += c.Usage.CompletionTokens
	})

	t.Run("natural-stop-is-deterministic", func(t *testing.T) {
		var first completionResp
		for i := range 2 {
			_, body := postJSON(t, s.url+"/v1/completions", map[string]any{"prompt": "Tell me a story.", "max_tokens": 1000, "min_tokens": 20})
			var c completionResp
			if err := json.Unmarshal(body, &c); err != nil {
				t.Fatal(err)
			}
			n := c.Usage.CompletionTokens
			if c.Choices[0].FinishReason != "stop" || n < 20 || n >= 1000 || len(strings.Fields(c.Choices[0].Text)) != n {
				t.Errorf("natural stop: %s", body)
			}
			if i == 1 && (c.Choices[0].Text != first.Choices[0].Text || n != first.Usage.CompletionTokens) {
				t.Errorf("same prompt, different output: %q vs %q", c.Choices[0].Text, first.Choices[0].Text)
			}
			first = c
			totalPrompt += c.Usage.PromptTokens
			totalGen += n
		}
		// min_tokens above the natural length holds EOS back.
		_, body := postJSON(t, s.url+"/v1/completions", map[string]any{"prompt": "Tell me a story.", "max_tokens": 1000, "min_tokens": 900})
		var c completionResp
		json.Unmarshal(body, &c)
		if c.Usage.CompletionTokens != 900 || c.Choices[0].FinishReason != "stop" {
			t.Errorf("min_tokens 900: %d tokens, %s", c.Usage.CompletionTokens, c.Choices[0].FinishReason)
		}
		totalPrompt += c.Usage.PromptTokens
		totalGen += c.Usage.CompletionTokens
	})

	t.Run("completion-stream", func(t *testing.T) {
		req := map[string]any{"model": "qwen", "prompt": []string{"abcdefgh"}, "max_tokens": 12, "ignore_eos": true, "stream": true,
			"stream_options": map[string]any{"include_usage": true}}
		b, _ := json.Marshal(req)
		resp, err := http.Post(s.url+"/v1/completions", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("Content-Type %q", ct)
		}
		events, done, err := readSSE(resp.Body)
		if err != nil || !done {
			t.Fatalf("stream: done=%v err=%v", done, err)
		}
		if len(events) != 13 {
			t.Fatalf("%d events, want 12 tokens + usage", len(events))
		}
		for i, e := range events[:12] {
			if e.Object != "text_completion" || len(e.Choices) != 1 || e.Choices[0].Text == nil || e.Usage != nil {
				t.Fatalf("chunk %d: %+v", i, e)
			}
			fr := e.Choices[0].FinishReason
			if (i < 11) != (fr == nil) || (i == 11 && *fr != "length") {
				t.Errorf("chunk %d finish_reason %v", i, fr)
			}
		}
		u := events[12]
		if len(u.Choices) != 0 || u.Usage == nil || *u.Usage != (usage{PromptTokens: 2, CompletionTokens: 12, TotalTokens: 14}) {
			t.Errorf("usage chunk %+v", u)
		}
		totalPrompt += 2
		totalGen += 12
	})

	t.Run("chat-stream", func(t *testing.T) {
		req := map[string]any{"model": "qwen", "messages": []map[string]any{
			{"role": "system", "content": "You are terse."},
			{"role": "user", "content": []map[string]string{{"type": "text", "text": "Hello there!"}}},
		}, "max_completion_tokens": 5, "ignore_eos": true, "stream": true, "stream_options": map[string]any{}}
		b, _ := json.Marshal(req)
		resp, err := http.Post(s.url+"/v1/chat/completions", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		events, done, err := readSSE(resp.Body)
		if err != nil || !done || len(events) != 7 {
			t.Fatalf("stream: %d events, done=%v err=%v", len(events), done, err)
		}
		if d := events[0].Choices[0].Delta; d == nil || d.Role != "assistant" || d.Content != "" {
			t.Errorf("first chunk %+v", events[0])
		}
		var text strings.Builder
		for _, e := range events[1:6] {
			if e.Object != "chat.completion.chunk" {
				t.Errorf("object %q", e.Object)
			}
			text.WriteString(e.Choices[0].Delta.Content)
		}
		if len(strings.Fields(text.String())) != 5 || *events[5].Choices[0].FinishReason != "length" {
			t.Errorf("content %q, last %+v", text.String(), events[5])
		}
		// 3 (reply) + 4 + ceil(14/4) + 4 + ceil(12/4) prompt tokens.
		if u := events[6].Usage; u == nil || u.PromptTokens != 18 || u.CompletionTokens != 5 {
			t.Errorf("usage %+v", u)
		}
		totalPrompt += 18
		totalGen += 5
	})

	t.Run("chat", func(t *testing.T) {
		resp, body := postJSON(t, s.url+"/v1/chat/completions", map[string]any{
			"messages": []map[string]string{{"role": "user", "content": "Hi"}}, "max_tokens": 3, "ignore_eos": true,
		})
		var c completionResp
		if resp.StatusCode != 200 || json.Unmarshal(body, &c) != nil || c.Object != "chat.completion" ||
			c.Choices[0].Message == nil || c.Choices[0].Message.Role != "assistant" || len(strings.Fields(c.Choices[0].Message.Content)) != 3 {
			t.Fatalf("%s: %s", resp.Status, body)
		}
		totalPrompt += c.Usage.PromptTokens
		totalGen += 3
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			body   map[string]any
			status int
			typ    string
			msg    string
		}{
			{map[string]any{"prompt": strings.Repeat("x", 4*2000), "max_tokens": 100}, 400, "BadRequestError",
				"This model's maximum context length is 2048 tokens. However, you requested 100 output tokens and your prompt contains 2000 input tokens, for a total of 2100 tokens."},
			{map[string]any{"prompt": strings.Repeat("x", 4*3000)}, 400, "BadRequestError", "This model's maximum context length is 2048 tokens. However, your request has 3000 input tokens."},
			{map[string]any{"model": "gpt-4", "prompt": "hi"}, 404, "NotFoundError", "The model `gpt-4` does not exist."},
			{map[string]any{"prompt": "hi", "max_tokens": 0}, 400, "BadRequestError", "max_tokens must be at least 1"},
			{map[string]any{"prompt": "hi", "n": 2}, 400, "BadRequestError", "n=1 only"},
			{map[string]any{"prompt": "hi", "stream_options": map[string]any{"include_usage": true}}, 400, "BadRequestError", "Stream options can only be defined when `stream=True`."},
		} {
			resp, body := postJSON(t, s.url+"/v1/completions", tc.body)
			var e struct {
				Error apiError `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tc.status || e.Error.Type != tc.typ ||
				e.Error.Code != tc.status || !strings.Contains(e.Error.Message, tc.msg) {
				t.Errorf("%v → %s %s", tc.body, resp.Status, body)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		fams := scrape(t, s.url)
		lbl := map[string]string{"model_name": "qwen", "engine": "0"}
		if got := value(t, fams, "vllm:prompt_tokens_total", lbl); int(got) != totalPrompt {
			t.Errorf("prompt_tokens_total %v, want %d", got, totalPrompt)
		}
		if got := value(t, fams, "vllm:generation_tokens_total", lbl); int(got) != totalGen {
			t.Errorf("generation_tokens_total %v, want %d", got, totalGen)
		}
		if got := value(t, fams, "vllm:request_success_total", map[string]string{"finished_reason": "length"}); got != 4 {
			t.Errorf("finished length %v, want 4", got)
		}
		if got := value(t, fams, "vllm:request_success_total", map[string]string{"finished_reason": "stop"}); got != 3 {
			t.Errorf("finished stop %v, want 3", got)
		}
		for _, g := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:num_preemptions_total"} {
			if v := value(t, fams, g, lbl); v != 0 {
				t.Errorf("%s = %v when idle", g, v)
			}
		}
		if n := histCount(t, fams, "vllm:time_to_first_token_seconds"); n != 7 {
			t.Errorf("TTFT count %d, want 7", n)
		}
		if n := histCount(t, fams, "vllm:e2e_request_latency_seconds"); n != 7 {
			t.Errorf("e2e count %d, want 7", n)
		}
		if n := histCount(t, fams, "vllm:inter_token_latency_seconds"); int(n) != totalGen-7 {
			t.Errorf("ITL count %d, want %d", n, totalGen-7)
		}
		ci := labelMap(fams["vllm:cache_config_info"].GetMetric()[0])
		if ci["gpu_memory_utilization"] != "0.92" || ci["cache_dtype"] != "auto" || ci["enable_prefix_caching"] != "True" {
			t.Errorf("cache_config_info %v", ci)
		}
	})
}

func TestStreamDisconnectAborts(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "4096")
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := json.Marshal(map[string]any{"prompt": "hi", "max_tokens": 3000, "ignore_eos": true, "stream": true})
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/v1/completions", strings.NewReader(string(b)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := scrape(t, s.url)
		if value(t, fams, "vllm:request_success_total", map[string]string{"finished_reason": "abort"}) == 1 &&
			value(t, fams, "vllm:num_requests_running", nil) == 0 && value(t, fams, "vllm:kv_cache_usage_perc", nil) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("aborted request still holds the engine")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPreemptionOverHTTP runs a batch that cannot fit a tiny pool: the
// engine must preempt, and every request still gets exactly its tokens.
func TestPreemptionOverHTTP(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "256", "--num-gpu-blocks-override", "24", "--time-scale", "1")
	// Real-time steps (not --time-scale 0) keep the 8 requests in flight together;
	// with instant steps each could finish before the next arrives.
	if !strings.Contains(s.stdout.String(), "with num_gpu_blocks_override=24") {
		t.Errorf("no override line in log")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, body := postJSON(t, s.url+"/v1/completions", map[string]any{
				"prompt": fmt.Sprintf("request %d %s", i, strings.Repeat("abcd", 100)), "max_tokens": 120, "ignore_eos": true,
			})
			var c completionResp
			if err := json.Unmarshal(body, &c); err != nil || c.Usage.CompletionTokens != 120 {
				errs <- fmt.Errorf("request %d: %s", i, body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	fams := scrape(t, s.url)
	if p := value(t, fams, "vllm:num_preemptions_total", nil); p == 0 {
		t.Error("no preemptions with 8 × 222 tokens on a 384-token pool")
	}
	if u := value(t, fams, "vllm:kv_cache_usage_perc", nil); u != 0 {
		t.Errorf("kv usage %v after all finished", u)
	}
}

// TestConcurrentFasterThanSequential is the day007 batching study in
// miniature, over HTTP and the real clock.
func TestConcurrentFasterThanSequential(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "1024", "--time-scale", "0.25")
	const n, tokens = 16, 32
	one := func() {
		_, body := postJSON(t, s.url+"/v1/completions", map[string]any{
			"prompt": "Explain memory fragmentation in one short sentence.", "max_tokens": tokens, "ignore_eos": true,
		})
		var c completionResp
		if err := json.Unmarshal(body, &c); err != nil || c.Usage.CompletionTokens != tokens {
			t.Errorf("bad response %s", body)
		}
	}
	t0 := time.Now()
	for range n {
		one()
	}
	seq := time.Since(t0)
	t0 = time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(one)
	}
	wg.Wait()
	conc := time.Since(t0)
	t.Logf("%d × %d tokens at time-scale 0.25: sequential %v, concurrent %v (%.1fx)", n, tokens, seq, conc, seq.Seconds()/conc.Seconds())
	if conc*3 > seq {
		t.Errorf("concurrent %v not clearly faster than sequential %v", conc, seq)
	}
	// The engine was busy while serving: the state file shows utilisation.
	if st := readState(t, s.stateDir); st.UtilPercent <= 0 && time.Since(t0) < time.Second {
		t.Errorf("util %v right after a batch", st.UtilPercent)
	}
}

// Like vLLM, every SSE stream ends with "data: [DONE]", also after a
// mid-stream error event: completion_stream_generator (and the chat one)
// catch the exception, yield `data: {error JSON}` and then fall through to
// the unconditional `yield "data: [DONE]\n\n"`
// (vllm/entrypoints/openai/completion/serving.py), so an OpenAI client that
// reads until [DONE] sees an error followed by a normal end. Triggered here
// with a request that can never get its KV blocks (errNoFit:
// --num-gpu-blocks-override 2 leaves 1 usable block).
func TestStreamErrorStillEndsWithDone(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "1024", "--num-gpu-blocks-override", "2", "--time-scale", "0")
	b, _ := json.Marshal(map[string]any{
		"prompt": strings.Repeat("abcd", 100), "max_tokens": 4, "stream": true,
	})
	resp, err := http.Post(s.url+"/v1/completions", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events, done, err := readSSE(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		t.Fatal("no events at all")
	}
	if !done {
		t.Errorf("stream with a mid-stream error ended without data: [DONE] (%d events); vLLM always sends [DONE] after the error event", len(events))
	}
}

// A response's "model" is the first --served-model-name whatever alias the
// request used, as vLLM fills it with OpenAIServingModels.model_name(), i.e.
// base_model_paths[0].name (vllm/entrypoints/openai/models/serving.py
// model_name; completion/serving.py passes model_name to every
// CompletionResponse and chunk).
func TestResponseModelIsTheFirstServedName(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "1024", "--time-scale", "0",
		"--served-model-name", "first", "--served-model-name", "second")
	resp, body := postJSON(t, s.url+"/v1/completions", map[string]any{"model": "second", "prompt": "hi", "max_tokens": 2})
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", resp.Status, body)
	}
	var c struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if c.Model != "first" {
		t.Errorf("request for alias %q: response model %q, vLLM answers with the first served name %q", "second", c.Model, "first")
	}
}

// An unknown model is a 404 NotFoundError whose "param" is "model", as
// vLLM's create_error_response(message="The model `x` does not exist.",
// err_type="NotFoundError", status_code=404, param="model")
// (vllm/entrypoints/openai/models/serving.py OpenAIModelRegistry.check_model).
func TestUnknownModelErrorNamesTheModelParam(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "1024", "--time-scale", "0")
	resp, body := postJSON(t, s.url+"/v1/chat/completions", map[string]any{
		"model": "nope", "messages": []map[string]string{{"role": "user", "content": "hi"}},
	})
	var e struct {
		Error struct {
			Type  string  `json:"type"`
			Param *string `json:"param"`
			Code  int     `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if resp.StatusCode != 404 || e.Error.Type != "NotFoundError" || e.Error.Code != 404 {
		t.Fatalf("unknown model: %s %s", resp.Status, body)
	}
	if e.Error.Param == nil || *e.Error.Param != "model" {
		t.Errorf("unknown model error param = %v, vLLM sends \"model\": %s", e.Error.Param, body)
	}
}
