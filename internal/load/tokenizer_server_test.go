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

	mu        sync.Mutex
	start     time.Time
	arrivals  []time.Duration // completions only, since start
	prompts   []string
	maxTokens []int
	tokenizes int
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
			Model  string `json:"model"`
			Prompt string `json:"prompt"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.tokenizes++
		s.mu.Unlock()
		n := wordTokens(req.Prompt)
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
		fmt.Fprintf(w, "# TYPE vllm:prefix_cache_queries counter\nvllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} %g\n", s.queries)
		fmt.Fprintf(w, "# TYPE vllm:prefix_cache_hits counter\nvllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} %g\n", s.hits)
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
