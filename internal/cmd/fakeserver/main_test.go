package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func testConfig(t *testing.T, args ...string) config {
	t.Helper()
	cfg, err := parseFlags(append([]string{"--port", "8000"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func do(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestParseFlags(t *testing.T) {
	cfg := testConfig(t, "--start-delay", "2s", "--model", "m", "--max-model-len", "512", "--fork-grandchild", "--grandchild-setsid")
	if cfg.port != 8000 || cfg.startDelay.String() != "2s" || cfg.model != "m" || cfg.maxModelLen != 512 ||
		!cfg.forkGrandchild || !cfg.grandchildSetsid {
		t.Errorf("cfg = %+v", cfg)
	}
	def := testConfig(t)
	if def.model != "fake-model" || def.maxModelLen != 4096 {
		t.Errorf("defaults = %+v", def)
	}
	for _, bad := range [][]string{
		{},
		{"--port", "0"},
		{"--port", "70000"},
		{"--port", "8000", "--bogus"},
		{"--port", "8000", "extra"},
		{"--port", "8000", "--max-model-len", "0"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
		if code := run(bad, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("run(%q) = %d, want %d", bad, code, exitUsage)
		}
	}
}

func TestHealthAndModels(t *testing.T) {
	h := newHandler(testConfig(t, "--model", "phi", "--max-model-len", "1024"))
	if code, _ := do(t, h, "GET", "/health", ""); code != 200 {
		t.Errorf("/health = %d", code)
	}
	code, body := do(t, h, "GET", "/v1/models", "")
	if code != 200 {
		t.Fatalf("/v1/models = %d", code)
	}
	var models struct {
		Object string `json:"object"`
		Data   []struct {
			ID          string `json:"id"`
			Object      string `json:"object"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &models); err != nil {
		t.Fatal(err)
	}
	if models.Object != "list" || len(models.Data) != 1 || models.Data[0].ID != "phi" ||
		models.Data[0].Object != "model" || models.Data[0].MaxModelLen != 1024 {
		t.Errorf("models = %+v", models)
	}
	if code, _ := do(t, h, "POST", "/health", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /health = %d", code)
	}
}

func TestNeverReady(t *testing.T) {
	h := newHandler(testConfig(t, "--never-ready"))
	for _, c := range []struct{ method, path string }{{"GET", "/health"}, {"GET", "/v1/models"}, {"POST", "/v1/completions"}} {
		if code, _ := do(t, h, c.method, c.path, `{"prompt":"x"}`); code != http.StatusServiceUnavailable {
			t.Errorf("%s %s = %d, want 503", c.method, c.path, code)
		}
	}
}

func TestCompletions(t *testing.T) {
	h := newHandler(testConfig(t, "--max-model-len", "10"))
	tests := []struct {
		name, body string
		code       int
		want       string // substring of the body
	}{
		{"default max_tokens is too long for 10", `{"prompt":"a b"}`, 400, "maximum context length is 10 tokens"},
		{"ok", `{"model":"fake-model","prompt":"a b c","max_tokens":3}`, 200,
			`"text":" fake fake fake","logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}`},
		{"no model is fine", `{"prompt":"a","max_tokens":1}`, 200, `"object":"text_completion"`},
		{"prompt list", `{"prompt":["a","b c"],"max_tokens":2}`, 200, `"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}`},
		{"wrong model", `{"model":"other","prompt":"a","max_tokens":1}`, 404, "The model `other` does not exist."},
		{"no prompt", `{"max_tokens":1}`, 400, "prompt is required"},
		{"bad prompt", `{"prompt":3}`, 400, "prompt must be"},
		{"bad max_tokens", `{"prompt":"a","max_tokens":0}`, 400, "max_tokens"},
		{"bad json", `{`, 400, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, h, "POST", "/v1/completions", tt.body)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %s\nwant %d containing %s", code, body, tt.code, tt.want)
			}
			if !json.Valid([]byte(body)) {
				t.Errorf("invalid JSON: %s", body)
			}
		})
	}
	if code, _ := do(t, h, "GET", "/v1/completions", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/completions = %d", code)
	}
}

func TestCompletionsStream(t *testing.T) {
	h := newHandler(testConfig(t))
	code, body := do(t, h, "POST", "/v1/completions", `{"prompt":"hi","max_tokens":3,"stream":true}`)
	if code != 200 {
		t.Fatalf("code %d", code)
	}
	var events []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, data)
		}
	}
	if len(events) != 4 || events[3] != "[DONE]" {
		t.Fatalf("events = %q", events)
	}
	for i, e := range events[:3] {
		var c completion
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatal(err)
		}
		last := c.Choices[0].FinishReason
		if (i == 2) != (last != nil) || c.Choices[0].Text != " fake" {
			t.Errorf("event %d = %s", i, e)
		}
	}
}

func TestLogLines(t *testing.T) {
	var b strings.Builder
	printLogLines(&b, testConfig(t, "--max-model-len", "2048"))
	for _, want := range []string{"GPU KV cache size: 1,234 tokens", "Maximum concurrency for 2048 tokens per request: 0.60x"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("log lines lack %q:\n%s", want, b.String())
		}
	}
}
