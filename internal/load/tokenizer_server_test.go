package load_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
)

// wordServer is an OpenAI-compatible test server with its own
// deterministic tokenizer, unlike the simulator's: a prompt is one BOS
// token plus one token per space-separated word, and a word longer than
// six characters is two. It answers /v1/completions (usage from that
// tokenizer), optionally POST /tokenize in vLLM's shapes and /metrics with
// vLLM's prefix-cache counters, and records what it was sent.
type wordServer struct {
	*httptest.Server
	tokenize bool // serve POST /tokenize
	metrics  bool // serve /metrics with the prefix-cache counters
	oldNames bool // under the names vLLM used before (vllm:gpu_prefix_cache_*)

	mu        sync.Mutex
	start     time.Time
	arrivals  []time.Duration // completions only, since start
	prompts   []string
	maxTokens []int
	tokenizes int
	chats     [][]load.Message // the messages of every chat request
	queries   float64
	hits      float64
}

func wordTokens(s string) int {
	n := 1 // BOS
	for _, w := range strings.Fields(s) {
		n++
		if len(w) > 6 {
			n++
		}
	}
	return n
}

// chatTokens counts a conversation as the chat template would: 3 plus,
// per message, 4 and its content's tokens.
func chatTokens(msgs []load.Message) int {
	n := 3
	for _, m := range msgs {
		n += 4 + wordTokens(m.Content)
	}
	return n
}

func newWordServer(t *testing.T, tokenize, metrics bool) *wordServer {
	t.Helper()
	s := &wordServer{tokenize: tokenize, metrics: metrics, start: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokenize", func(w http.ResponseWriter, r *http.Request) {
		if !s.tokenize {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Model    string         `json:"model"`
			Prompt   string         `json:"prompt"`
			Messages []load.Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.tokenizes++
		s.mu.Unlock()
		n := wordTokens(req.Prompt)
		if req.Messages != nil {
			n = chatTokens(req.Messages)
		}
		toks := make([]int, n)
		json.NewEncoder(w).Encode(map[string]any{"count": n, "max_model_len": 4096, "tokens": toks})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if !s.metrics {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		name := "vllm:prefix_cache_"
		if s.oldNames {
			name = "vllm:gpu_prefix_cache_"
		}
		fmt.Fprintf(w, "# TYPE %squeries counter\n%squeries_total{engine=\"0\",model_name=\"m\"} %g\n", name, name, s.queries)
		fmt.Fprintf(w, "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n")
		fmt.Fprintf(w, "# TYPE %shits counter\n%shits_total{engine=\"0\",model_name=\"m\"} %g\n", name, name, s.hits)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages  []load.Message `json:"messages"`
			MaxTokens int            `json:"max_tokens"`
			Stream    bool           `json:"stream"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		n := chatTokens(req.Messages)
		s.mu.Lock()
		s.chats = append(s.chats, req.Messages)
		s.mu.Unlock()
		// The answer names the conversation's length, so a test can check
		// it comes back in the next turn.
		answer := fmt.Sprintf("answer to %d messages \"quoted\"", len(req.Messages))
		if !req.Stream {
			json.NewEncoder(w).Encode(map[string]any{
				"choices": []map[string]any{{"message": map[string]string{"role": "assistant", "content": answer}, "finish_reason": "stop"}},
				"usage":   map[string]int{"prompt_tokens": n, "completion_tokens": 4},
			})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i, part := range strings.SplitAfter(answer, " ") {
			b, _ := json.Marshal(map[string]any{"choices": []map[string]any{{"index": 0, "delta": map[string]string{"content": part}}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			if i == 0 {
				w.(http.Flusher).Flush()
			}
		}
		b, _ := json.Marshal(map[string]any{"choices": []any{}, "usage": map[string]int{"prompt_tokens": n, "completion_tokens": 4}})
		fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", b)
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Prompt    string `json:"prompt"`
			MaxTokens int    `json:"max_tokens"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		n := wordTokens(req.Prompt)
		s.mu.Lock()
		if req.MaxTokens > 1 { // not a probe
			s.arrivals = append(s.arrivals, time.Since(s.start))
			s.prompts = append(s.prompts, req.Prompt)
			s.maxTokens = append(s.maxTokens, req.MaxTokens)
			s.queries += float64(n)
			s.hits += float64(n / 2)
		}
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{
			"choices": []map[string]any{{"text": strings.Repeat(" x", req.MaxTokens), "finish_reason": "length"}},
			"usage":   map[string]int{"prompt_tokens": n, "completion_tokens": req.MaxTokens},
		})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}
