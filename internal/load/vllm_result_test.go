package load_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// A saved result reads as vLLM's: its field names, in its order, ttfts and
// itls in seconds, statistics in ms for the chosen metrics and percentiles,
// "inf" for an infinite rate and null for no concurrency limit.
func TestBenchResultHasVLLMFieldNamesAndUnits(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 5 * time.Millisecond, ITL: time.Millisecond})
	defer srv.Close()
	sums, rs := run(t, cfgFor(srv.URL, true, load.Mode{Kind: load.KindConcurrent, Concurrency: 2, Requests: 4}))
	info := load.BenchInfo{Date: "20261204-223000", Backend: "openai", ModelID: "org/m", NumPrompts: 4,
		RequestRate: math.Inf(1), Burstiness: 1, Metadata: [][2]string{{"engine", "vllm"}},
		PercentileMetrics: []string{"ttft", "e2el"}, MetricPercentiles: []float64{50, 99.9}}
	data, err := load.BenchResult(info, sums[0], rs)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	order := []string{"date", "endpoint_type", "backend", "label", "model_id", "tokenizer_id", "num_prompts", "engine",
		"request_rate", "burstiness", "max_concurrency", "duration", "completed", "failed", "total_input_tokens",
		"total_output_tokens", "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
		"max_concurrent_requests", "input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors",
		"mean_ttft_ms", "median_ttft_ms", "std_ttft_ms", "p50_ttft_ms", "p99.9_ttft_ms",
		"mean_e2el_ms", "median_e2el_ms", "std_e2el_ms", "p50_e2el_ms", "p99.9_e2el_ms"}
	at := -1
	for _, k := range order {
		i := bytes.Index(data, []byte(`"`+k+`":`))
		if i < 0 {
			t.Errorf("no %s", k)
			continue
		}
		if i < at {
			t.Errorf("%s out of vLLM's order", k)
		}
		at = i
	}
	if len(got) != len(order) {
		t.Errorf("%d fields, want %d:\n%s", len(got), len(order), data)
	}
	if got["request_rate"] != "inf" || got["max_concurrency"] != nil || got["label"] != nil || got["tokenizer_id"] != "org/m" ||
		got["engine"] != "vllm" || got["completed"] != 4.0 {
		t.Errorf("setup fields wrong:\n%s", data)
	}
	ttfts := got["ttfts"].([]any)
	if len(ttfts) != 4 || ttfts[0].(float64) > 1 || ttfts[0].(float64) < 0.004 {
		t.Errorf("ttfts must be seconds: %v", ttfts)
	}
	if p50 := got["p50_ttft_ms"].(float64); math.Abs(p50-sums[0].MedianTTFTms) > 1e-9 {
		t.Errorf("p50_ttft_ms %v, summary median %v", p50, sums[0].MedianTTFTms)
	}
	if strings.Contains(string(data), "tpot") {
		t.Error("tpot was not chosen")
	}
}
