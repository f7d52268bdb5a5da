package load

import (
	"math"
	"strings"
	"testing"
	"time"
)

// resultsAt builds completed requests of 11 tokens each, one per (ttft,
// e2el) pair, 100 ms apart, plus failed ones.
func resultsAt(latencies [][2]float64, failed int) []RequestResult {
	t0 := time.Unix(1000, 0)
	var rs []RequestResult
	for i, l := range latencies {
		start := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		rs = append(rs, RequestResult{Mode: "m", Index: i, IntendedStart: start, Start: start, TTFTms: l[0], E2ELms: l[1],
			CompletionTokens: 11, TokensSource: "usage"})
	}
	for i := range failed {
		start := t0.Add(time.Duration(len(latencies)+i) * 100 * time.Millisecond)
		rs = append(rs, RequestResult{Mode: "m", IntendedStart: start, Start: start, E2ELms: 10, ErrorClass: ClassHTTP5xx})
	}
	return rs
}

func TestRequestGoodputCountsRequestsMeetingEveryPerRequestSLO(t *testing.T) {
	// TPOT = (e2el - ttft) / 10. Request 0 meets both; 1 misses TTFT; 2
	// misses TPOT (60 ms); 3 meets both; the failed one meets nothing.
	rs := resultsAt([][2]float64{{100, 400}, {600, 700}, {100, 700}, {200, 600}}, 1)
	m := Mode{Name: "m", Kind: KindConcurrent, Concurrency: 4, Requests: 5, SLO: &SLO{TTFTms: 500, TPOTms: 50}}
	s := Summarize(m, rs, 1)
	// Duration: first start (t0) to the end of the last request (request
	// 3 starts at 300 ms and takes 600 ms; the failed one ends at 410 ms).
	if math.Abs(s.Duration-0.9) > 1e-9 {
		t.Fatalf("duration %v", s.Duration)
	}
	if s.RequestGoodput == nil || math.Abs(*s.RequestGoodput-2/0.9) > 1e-9 {
		t.Errorf("request_goodput %v, want 2 requests / 0.9 s", s.RequestGoodput)
	}
	if s.SLOAttainment == nil || *s.SLOAttainment != 0.4 {
		t.Errorf("slo_attainment %v, want 2 of 5", s.SLOAttainment)
	}
	v := s.Values()
	if _, ok := v["request_goodput"]; !ok {
		t.Error("values lack request_goodput")
	}
	if s.SLOPass != nil {
		t.Error("per-request SLOs alone judge no mode")
	}
	if _, ok := Summarize(Mode{Kind: KindSequential, Requests: 1}, rs, 1).Values()["request_goodput"]; ok {
		t.Error("a mode without SLOs must not report a goodput")
	}
}

func TestAggregateSLOReportsPassBindingAndMargins(t *testing.T) {
	rs := resultsAt([][2]float64{{100, 300}, {200, 400}, {300, 500}, {400, 600}, {500, 700}}, 0)
	rate := 0.0
	// p50 TTFT is 300 (limit 400: margin 0.25); p99 TTFT is 496 > 450.
	slo := &SLO{P50TTFTms: 400, P99TTFTms: 450, MaxErrorRate: &rate}
	s := Summarize(Mode{Name: "m", Kind: KindConcurrent, Concurrency: 1, Requests: 5, SLO: slo}, rs, 0)
	if s.SLOPass == nil || *s.SLOPass || s.SLOBinding != "p99_ttft_ms" {
		t.Fatalf("pass %v binding %q, want a p99_ttft_ms failure", s.SLOPass, s.SLOBinding)
	}
	if math.Abs(s.SLOMargins["p50_ttft_ms"]-0.25) > 1e-9 || s.SLOMargins["p99_ttft_ms"] >= 0 || s.SLOMargins["max_error_rate"] != 0 {
		t.Errorf("margins %v", s.SLOMargins)
	}
	if v := s.Values(); v["slo_pass"] != false || v["slo_margin.p50_ttft_ms"] == nil {
		t.Errorf("values %v", v)
	}
	slo.P99TTFTms = 500
	if s := Summarize(Mode{Name: "m", Kind: KindConcurrent, Concurrency: 1, Requests: 5, SLO: slo}, rs, 0); !*s.SLOPass || s.SLOBinding != "" {
		t.Errorf("p99 496 <= 500 must pass: %v %q", *s.SLOPass, s.SLOBinding)
	}
}

func TestP95SLOIsJudgedOnTheLinearInterpolatedPercentile(t *testing.T) {
	var l [][2]float64
	for i := 1; i <= 21; i++ {
		l = append(l, [2]float64{float64(i), float64(i) + 10})
	}
	// rank 0.95*20 = 19 → the 20th value, 20 ms.
	s := Summarize(Mode{Name: "m", Kind: KindConcurrent, Concurrency: 1, Requests: 21, SLO: &SLO{P95TTFTms: 20}}, resultsAt(l, 0), 0)
	if !*s.SLOPass || s.SLOMargins["p95_ttft_ms"] != 0 {
		t.Errorf("p95 of 1..21 is 20: pass %v margin %v", *s.SLOPass, s.SLOMargins)
	}
}

func TestParseGoodputReadsVLLMFlagForm(t *testing.T) {
	s, err := ParseGoodput([]string{"ttft:500", "tpot:50 e2el:5000"})
	if err != nil || s.TTFTms != 500 || s.TPOTms != 50 || s.E2ELms != 5000 {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"ttf:500", "ttft", "ttft:-1", "ttft:5x"} {
		if _, err := ParseGoodput([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		} else if bad == "ttf:500" && !strings.Contains(err.Error(), `did you mean "ttft"`) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestSLOValidateReportsEveryFieldAtItsKey(t *testing.T) {
	rate := 2.0
	c := Config{BaseURL: "http://h", Model: "m", SLO: &SLO{TTFTms: -1, MaxErrorRate: &rate},
		Modes: []Mode{{Kind: KindSequential, Requests: 1, SLO: &SLO{P99TPOTms: -5, MinSLOAttainment: 0.9}}}}
	err := c.Validate()
	for _, want := range []string{"slo.ttft_ms", "slo.max_error_rate", "modes[0].slo.p99_tpot_ms", "modes[0].slo.min_slo_attainment: needs a per-request SLO"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %s in %v", want, err)
		}
	}
}
