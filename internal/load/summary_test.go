package load

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestPercentile(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// numpy.percentile(range(1, 11), [0, 50, 90, 99, 100]) = 1, 5.5, 9.1, 9.91, 10
	for _, c := range []struct{ p, want float64 }{{0, 1}, {50, 5.5}, {90, 9.1}, {99, 9.91}, {100, 10}, {25, 3.25}} {
		if got := Percentile(x, c.p); !near(got, c.want) {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 || Percentile([]float64{7}, 99) != 7 {
		t.Error("edge cases")
	}
	// numpy.percentile([10, 20, 40], 90) = 36
	if got := Percentile([]float64{10, 20, 40}, 90); !near(got, 36) {
		t.Errorf("got %v", got)
	}
}

func TestComputeStats(t *testing.T) {
	s := ComputeStats([]float64{4, 1, 3, 2}) // unsorted on purpose
	// mean 2.5, population std sqrt(1.25), median 2.5, p90 3.7, p99 3.97
	want := Stats{Mean: 2.5, Median: 2.5, Std: math.Sqrt(1.25), P90: 3.7, P99: 3.97, N: 4}
	if !near(s.Mean, want.Mean) || !near(s.Median, want.Median) || !near(s.Std, want.Std) ||
		!near(s.P90, want.P90) || !near(s.P99, want.P99) || s.N != 4 {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	if (ComputeStats(nil) != Stats{}) {
		t.Fatal("empty")
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * 1e6)) }
	rs := []RequestResult{
		// completed: start 0, ttft 10, e2el 100, 10 tokens → tpot 10
		{Index: 0, IntendedStart: at(0), Start: at(0), TTFTms: 10, ITLms: []float64{10, 20}, E2ELms: 100,
			PromptTokens: 5, CompletionTokens: 10, TokensSource: TokensUsage, FinishReason: "length"},
		// completed: start 50 (lag 10), ttft 30, e2el 150 (ends at 200), 5 tokens → tpot 30
		{Index: 1, IntendedStart: at(40), Start: at(50), TTFTms: 30, ITLms: []float64{30}, E2ELms: 150,
			PromptTokens: 5, CompletionTokens: 5, TokensSource: TokensUsage, FinishReason: "stop", LagMs: 10},
		// failed: overlaps both (start 60, ends 80)
		{Index: 2, IntendedStart: at(60), Start: at(60), E2ELms: 20, HTTPStatus: 500, ErrorClass: ClassHTTP5xx},
		// dropped
		{Index: 3, IntendedStart: at(70), ErrorClass: ClassDropped},
		// completed, 1 token: no tpot; starts exactly when #0 ends → not overlapping it
		{Index: 4, IntendedStart: at(100), Start: at(100), TTFTms: 5, E2ELms: 5, PromptTokens: 5,
			CompletionTokens: 1, TokensSource: TokensUsage, FinishReason: "length"},
	}
	m := Mode{Name: "r", Kind: KindRate, Rate: 10, Requests: 5}
	s := Summarize(m, rs, 0)
	check := func(name string, got, want float64) {
		t.Helper()
		if !near(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if s.Completed != 3 || s.Failed != 1 || s.Dropped != 1 || s.NumPrompts != 5 {
		t.Fatalf("counts %+v", s)
	}
	check("duration", s.Duration, 0.2) // 0 → 200 ms
	check("request_throughput", s.RequestThroughput, 15)
	check("output_throughput", s.OutputThroughput, 80)
	check("total_token_throughput", s.TotalTokenThroughput, 155)
	check("mean_ttft", s.MeanTTFTms, 15)
	check("median_ttft", s.MedianTTFTms, 10)
	check("p90_ttft", s.P90TTFTms, 26) // [5 10 30]: rank 1.8 → 10 + 0.8*20
	check("std_ttft", s.StdTTFTms, math.Sqrt((100+25+225)/3.0))
	check("mean_tpot", s.MeanTPOTms, 20) // (100-10)/9 = 10, (150-30)/4 = 30
	check("mean_itl", s.MeanITLms, 20)   // pooled 10 20 30
	check("median_e2el", s.MedianE2ELms, 100)
	check("lag_p50", s.LagP50ms, 0) // lags 0 10 0 0
	check("lag_p99", s.LagP99ms, 9.7)
	if s.NTTFT != 3 || s.NTPOT != 2 || s.NITL != 3 || s.NE2EL != 3 || s.NLag != 4 {
		t.Errorf("n: %d %d %d %d %d", s.NTTFT, s.NTPOT, s.NITL, s.NE2EL, s.NLag)
	}
	if s.MaxConcurrentRequests != 3 {
		t.Errorf("max_concurrent_requests = %d, want 3", s.MaxConcurrentRequests)
	}
	if s.ErrorsByClass[ClassHTTP5xx] != 1 || len(s.ErrorsByClass) != 1 {
		t.Errorf("errors %v", s.ErrorsByClass)
	}
	if s.FinishReasons["length"] != 2 || s.FinishReasons["stop"] != 1 {
		t.Errorf("finish %v", s.FinishReasons)
	}
	if s.TokensSource != TokensUsage || !s.ThresholdExceeded || !near(s.ErrorRate, 0.25) {
		t.Errorf("source %q exceeded %v rate %v", s.TokensSource, s.ThresholdExceeded, s.ErrorRate)
	}
	if Summarize(m, rs, 0.25).ThresholdExceeded || !Summarize(m, rs, 0.2).ThresholdExceeded {
		t.Error("threshold: 1 of 4 failed must pass at 0.25 and fail at 0.2")
	}
	rs[4].TokensSource = TokensChunks
	if got := Summarize(m, rs, 0).TokensSource; got != "mixed" {
		t.Errorf("tokens_source %q", got)
	}

	// JSON names are vLLM's.
	b, _ := json.Marshal(s)
	for _, k := range []string{`"completed":3`, `"failed":1`, `"duration":0.2`, `"request_throughput":15`,
		`"mean_ttft_ms":15`, `"median_ttft_ms":10`, `"p99_itl_ms"`, `"std_e2el_ms"`, `"n_tpot":2`,
		`"max_concurrent_requests":3`, `"lag_p99_ms"`, `"errors_by_class":{"http_5xx":1}`, `"threshold_exceeded":true`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
	v := s.Values()
	if v["completed"] != 3 || v["errors_by_class.http_5xx"] != 1 || v["finish_reasons.length"] != 2 || v["mode"] != "r" {
		t.Errorf("values %v", v)
	}
	if _, ok := v["errors_by_class"]; ok {
		t.Error("maps must be flattened")
	}
	// Every field but the optional (omitempty, unset here) ones is a value.
	n := 0
	for _, f := range reflect.VisibleFields(reflect.TypeOf(s)) {
		if !strings.Contains(f.Tag.Get("json"), "omitempty") {
			n++
		}
	}
	if len(v) < n-2 {
		t.Errorf("values has %d keys for %d fields", len(v), n)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	s := Summarize(Mode{Kind: KindSequential}, nil, 0)
	if s.Mode != string(KindSequential) || s.Duration != 0 || s.ThresholdExceeded || s.RequestThroughput != 0 {
		t.Fatalf("%+v", s)
	}
}

func BenchmarkSummarize(b *testing.B) {
	// 1024 streamed requests of 32 tokens: the c=1024 point.
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now()
	rs := make([]RequestResult, 1024)
	for i := range rs {
		itl := make([]float64, 31)
		for j := range itl {
			itl[j] = 10 + r.Float64()
		}
		st := t0.Add(time.Duration(r.IntN(1e9)))
		rs[i] = RequestResult{Index: i, IntendedStart: st, Start: st, TTFTms: 50 + r.Float64(), ITLms: itl,
			E2ELms: 360 + r.Float64(), PromptTokens: 7, CompletionTokens: 32, TokensSource: TokensUsage, FinishReason: "length"}
	}
	m := Mode{Kind: KindConcurrent, Concurrency: 1024, Requests: 1024}
	b.ReportAllocs()
	for b.Loop() {
		Summarize(m, rs, 0)
	}
}
