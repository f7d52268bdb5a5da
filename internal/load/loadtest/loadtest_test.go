package loadtest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return resp, b.String()
}

func TestServer(t *testing.T) {
	s := NewServer(Script{OllamaUsage: true, SeparateFinish: true, Status: Burst(429, 1, 1)})
	defer s.Close()
	resp, out := post(t, s.URL+"/v1/completions", `{"model":"m","prompt":"a b c","max_tokens":2,"stream":true,"stream_options":{"include_usage":true}}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(lines) != 5 || lines[4] != "data: [DONE]" ||
		!strings.Contains(lines[0], `"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}`) ||
		!strings.Contains(lines[2], `"finish_reason":"length"`) ||
		!strings.Contains(lines[3], `"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}`) {
		t.Fatalf("stream:\n%s", out)
	}
	for _, l := range lines[:4] {
		if !json.Valid([]byte(strings.TrimPrefix(l, "data: "))) {
			t.Fatalf("invalid JSON %s", l)
		}
	}
	if resp, _ := post(t, s.URL+"/v1/completions", `{}`); resp.StatusCode != 429 {
		t.Fatalf("burst: %d", resp.StatusCode)
	}
	resp, out = post(t, s.URL+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x y"}],"max_tokens":3}`)
	if resp.StatusCode != 200 {
		t.Fatalf("chat: %d %s", resp.StatusCode, out)
	}
	var obj struct {
		Object  string
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil || obj.Object != "chat.completion" ||
		obj.Choices[0].Message.Content != " tok tok tok" || obj.Usage.CompletionTokens != 3 || obj.Usage.PromptTokens != 2 {
		t.Fatalf("%v %+v", err, obj)
	}
	if s.Requests() != 3 {
		t.Fatalf("requests %d", s.Requests())
	}
	resp, out = post(t, s.URL+"/loadtest/stats?reset=1", ``)
	if resp.StatusCode != 200 {
		t.Fatalf("stats: %d %s", resp.StatusCode, out)
	}
	var st Stats
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Requests != 3 || st.FirstTokens != 1 || s.Requests() != 0 {
		t.Fatalf("stats %v %+v", err, st)
	}
}
