package load_test

import (
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// With WaitForSlot a rate mode at its in-flight cap holds the next request
// until one ends (vLLM's --max-concurrency): none is dropped, the server
// never sees more than the cap, and the wait shows as lag.
func TestWaitForSlotQueuesRequestsInsteadOfDroppingThem(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 30 * time.Millisecond})
	defer srv.Close()
	sums, rs := run(t, cfgFor(srv.URL, true, load.Mode{Kind: load.KindRate, Rate: 1000, Requests: 8, MaxInFlight: 2, WaitForSlot: true}))
	s := sums[0]
	if s.Completed != 8 || s.Dropped != 0 || s.Failed != 0 {
		t.Fatalf("completed %d dropped %d failed %d", s.Completed, s.Dropped, s.Failed)
	}
	if got := srv.MaxInFlight(); got > 2 {
		t.Errorf("server saw %d requests in flight, cap 2", got)
	}
	last := rs[0]
	for _, r := range rs {
		if r.Index == 7 {
			last = r
		}
	}
	if last.LagMs < 60 { // three rounds of 30 ms ahead of it
		t.Errorf("the last request waited %.1f ms for a slot, want >= 60", last.LagMs)
	}
}
