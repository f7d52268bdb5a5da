package load

import (
	"testing"
	"time"
)

// Two users served side by side for 100 ms, 10 output tokens each: 200
// tokens/s in all, 100 tokens/s per user.
func TestOutputThroughputPerUserDividesByThePeakConcurrencyAchieved(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rs := []RequestResult{
		{Index: 0, IntendedStart: t0, Start: t0, TTFTms: 10, E2ELms: 100, CompletionTokens: 10, TokensSource: TokensUsage},
		{Index: 1, IntendedStart: t0, Start: t0, TTFTms: 10, E2ELms: 100, CompletionTokens: 10, TokensSource: TokensUsage},
	}
	s := Summarize(Mode{Name: "c", Kind: KindConcurrent, Concurrency: 8, Requests: 2}, rs, 0)
	if s.MaxConcurrentRequests != 2 || !near(s.OutputThroughput, 200) {
		t.Fatalf("max_concurrent_requests %d, output_throughput %v", s.MaxConcurrentRequests, s.OutputThroughput)
	}
	if !near(s.OutputThroughputPerUser, 100) {
		t.Errorf("output_throughput_per_user = %v, want 100", s.OutputThroughputPerUser)
	}
	if v, ok := s.Values()["output_throughput_per_user"]; !ok || !near(v.(float64), 100) {
		t.Errorf("Values lacks output_throughput_per_user: %v", v)
	}
	if got := Summarize(Mode{Name: "c", Kind: KindConcurrent, Concurrency: 1, Requests: 0}, nil, 0); got.OutputThroughputPerUser != 0 {
		t.Errorf("no request: %v, want 0", got.OutputThroughputPerUser)
	}
}
