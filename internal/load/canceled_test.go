package load_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
)

// Requests cut short by an interrupt are canceled: counted apart, never
// failures, so they neither raise the error rate nor trip the threshold.
func TestCanceledRequestsAreNotFailures(t *testing.T) {
	t0 := time.Now()
	rs := []load.RequestResult{
		{Index: 0, IntendedStart: t0, Start: t0, E2ELms: 10, CompletionTokens: 1},
		{Index: 1, IntendedStart: t0, Start: t0, E2ELms: 5, ErrorClass: load.ClassCanceled, Error: "context canceled"},
		{Index: 2, IntendedStart: t0, Start: t0, E2ELms: 5, ErrorClass: load.ClassCanceled, Error: "context canceled"},
	}
	s := load.Summarize(load.Mode{Kind: load.KindConcurrent, Concurrency: 3, Requests: 3}, rs, 0)
	if s.Canceled != 2 || s.Failed != 0 || s.ErrorRate != 0 || s.ThresholdExceeded || !s.Interrupted || len(s.ErrorsByClass) != 0 {
		t.Fatalf("canceled %d failed %d rate %v threshold %v interrupted %v errors %v",
			s.Canceled, s.Failed, s.ErrorRate, s.ThresholdExceeded, s.Interrupted, s.ErrorsByClass)
	}
	if s.Completed != 1 || s.NE2EL != 1 {
		t.Errorf("completed %d, n_e2el %d", s.Completed, s.NE2EL)
	}
}

// A summary keeps the first few distinct messages of each error class, so
// the console can say why requests failed; Values leaves them out.
func TestSummaryKeepsTheFirstDistinctErrorMessagesPerClass(t *testing.T) {
	t0 := time.Now()
	var rs []load.RequestResult
	for i := range 10 {
		rs = append(rs, load.RequestResult{Index: i, Start: t0, E2ELms: 1, ErrorClass: load.ClassHTTP4xx,
			Error: fmt.Sprintf("HTTP 404: model m%d does not exist", i%5)})
	}
	rs = append(rs, load.RequestResult{Index: 10, Start: t0, E2ELms: 1, ErrorClass: load.ClassReset, Error: "connection reset"})
	s := load.Summarize(load.Mode{Kind: load.KindSequential, Requests: 11}, rs, 1)
	got := s.ErrorMessages[load.ClassHTTP4xx]
	if len(got) != load.MaxErrorMessages || got[0] != "HTTP 404: model m0 does not exist" || got[2] != "HTTP 404: model m2 does not exist" {
		t.Errorf("http_4xx messages %q", got)
	}
	if r := s.ErrorMessages[load.ClassReset]; len(r) != 1 || r[0] != "connection reset" {
		t.Errorf("reset messages %q", r)
	}
	for k := range s.Values() {
		if len(k) >= 14 && k[:14] == "error_messages" {
			t.Errorf("Values has %s", k)
		}
	}
}
