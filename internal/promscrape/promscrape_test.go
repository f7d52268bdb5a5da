package promscrape

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseFile(t *testing.T, name, contentType string) Families {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fams, err := Parse(f, contentType)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return fams
}

func want(t *testing.T, name string, got VLLM, exp map[string]float64, absent ...string) {
	t.Helper()
	for k, v := range exp {
		if g, ok := got.Values[k]; !ok || g != v {
			t.Errorf("%s: %s = %v (present %v), want %v", name, k, g, ok, v)
		}
	}
	for _, k := range absent {
		if v, ok := got.Values[k]; ok {
			t.Errorf("%s: %s = %v, want absent", name, k, v)
		}
	}
}

func TestVLLMFixtures(t *testing.T) {
	v := ExtractVLLM(parseFile(t, "vllm-v0.11.0.txt", "text/plain; version=0.0.4; charset=utf-8"))
	want(t, "v0.11", v, map[string]float64{
		"num_gpu_blocks": 10652, "block_size": 16, "gpu_memory_utilization": 0.9,
		"kv_cache_usage_perc": 0.2134, "num_requests_running": 37, "num_requests_waiting": 5,
		"num_preemptions_total": 3, "prompt_tokens_total": 25600, "generation_tokens_total": 12800,
		"request_success_total": 100, "request_success_length_total": 98,
		"prefix_cache_queries_total": 25600, "prefix_cache_hits_total": 0,
	}, "kv_cache_size_tokens", "num_cpu_blocks")
	if v.Labels["sliding_window"] != "2047" || v.Labels["num_cpu_blocks"] != "None" || v.Source["kv_cache_usage_perc"] != "vllm:kv_cache_usage_perc" {
		t.Errorf("labels/source: %v %v", v.Labels, v.Source)
	}

	v = ExtractVLLM(parseFile(t, "vllm-v0.9.1.txt", ""))
	want(t, "v0.9.1", v, map[string]float64{"num_gpu_blocks": 177436, "kv_cache_usage_perc": 0, "prefix_cache_queries_total": 0, "num_preemptions_total": 0})
	if v.Source["kv_cache_usage_perc"] != "vllm:gpu_cache_usage_perc" {
		t.Errorf("old name not used: %v", v.Source)
	}

	v = ExtractVLLM(parseFile(t, "vllm-2026-dp2.txt", ""))
	want(t, "2026 dp2", v, map[string]float64{
		"kv_cache_size_tokens": 461440, "kv_cache_max_concurrency": 3.52, "num_gpu_blocks": 28840, "gpu_memory_utilization": 0.92,
		"num_requests_running": 21, "num_requests_waiting": 1, "num_preemptions_total": 5, "kv_cache_usage_perc": 0.41,
	})

	v = ExtractVLLM(parseFile(t, "vllm-v0.8.4-none.txt", ""))
	want(t, "v0.8.4", v, map[string]float64{"block_size": 16, "kv_cache_usage_perc": 0}, "num_gpu_blocks")
	if v.Labels["num_gpu_blocks"] != "None" {
		t.Errorf("None label: %v", v.Labels)
	}

	v = ExtractVLLM(parseFile(t, "vllm-openmetrics.txt", "application/openmetrics-text; version=1.0.0; charset=utf-8"))
	want(t, "openmetrics", v, map[string]float64{"num_requests_running": 2, "num_preemptions_total": 7, "kv_cache_usage_perc": 0.5, "num_gpu_blocks": 1000})
}

func TestFamiliesHelpers(t *testing.T) {
	f := parseFile(t, "vllm-v0.11.0.txt", "")
	if v, ok := f.Value("vllm:time_to_first_token_seconds_count", nil); !ok || v != 100 {
		t.Errorf("histogram count %v %v", v, ok)
	}
	if v, ok := f.Value("vllm:time_to_first_token_seconds_sum", Match{"engine": "0"}); !ok || v != 9.5 {
		t.Errorf("histogram sum %v %v", v, ok)
	}
	if _, ok := f.Value("vllm:time_to_first_token_seconds_sum", Match{"engine": "9"}); ok {
		t.Error("matched a missing engine")
	}
	if v, ok := f.Value("vllm:num_preemptions", nil); !ok || v != 3 {
		t.Errorf("_total optional: %v %v", v, ok)
	}
	if _, ok := f.Value("vllm:nope", nil); ok {
		t.Error("missing metric found")
	}
	if v, ok := f.Value("vllm:request_success_total", Match{"finished_reason": "stop"}); !ok || v != 2 {
		t.Errorf("match: %v", v)
	}
	if f.Labels("vllm:nope") != nil {
		t.Error("labels of a missing metric")
	}
	names := strings.Join(f.Names(), " ")
	if !strings.Contains(names, "vllm:cache_config_info") || !strings.Contains(names, "python_gc_objects_collected_total") {
		t.Errorf("names: %s", names)
	}
	if _, err := Parse(strings.NewReader("vllm:x{a=\"1\" 3\n"), ""); err == nil {
		t.Error("bad exposition accepted")
	}
}

func TestScrapeHTTP(t *testing.T) {
	body, err := os.ReadFile("testdata/vllm-2026-dp2.txt")
	if err != nil {
		t.Fatal(err)
	}
	var accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			accept = r.Header.Get("Accept")
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			w.Write(body)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		default:
			http.Error(w, "not found", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	v, err := ScrapeVLLM(ctx, srv.Client(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v.Values["kv_cache_size_tokens"] != 461440 || v.Time.IsZero() {
		t.Errorf("scraped %+v", v)
	}
	// prometheus_client answers OpenMetrics whenever Accept names it, q or not.
	if !strings.HasPrefix(accept, "text/plain;version=0.0.4") || strings.Contains(accept, "openmetrics") {
		t.Errorf("Accept %q", accept)
	}
	if _, err := Fetch(ctx, nil, srv.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := Fetch(tctx, srv.Client(), srv.URL+"/slow"); err == nil {
		t.Error("slow endpoint did not time out")
	}
	if _, err := ScrapeVLLM(ctx, nil, "http://127.0.0.1:1/metrics"); err == nil {
		t.Error("refused connection gave no error")
	}
	if _, err := Fetch(ctx, nil, "://bad"); err == nil {
		t.Error("bad URL accepted")
	}
}
