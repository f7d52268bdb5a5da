package load_test

import (
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
)

// TestReview2ScheduleDurationBoundary: a constant-rate schedule bounded by
// Duration holds the offsets i/Rate that lie strictly before Duration
// (Schedule's doc: "stops ... before Duration"), i.e. ceil(Rate*Duration)
// requests. Schedule computes float64(i)/Rate seconds, multiplies by 1e9
// and truncates, so for rates that are not exact binary fractions the offset
// that should be exactly Duration comes out 1 ns short and an extra request
// is scheduled at the very end (e.g. 2.2 req/s for 15 s gives 34 requests,
// the last "at" 14.999999999 s, instead of 33). The request count of a rate
// point then depends on float noise.
func TestReview2ScheduleDurationBoundary(t *testing.T) {
	cases := []struct {
		rate float64
		d    time.Duration
		want int
	}{
		{1.1, 30 * time.Second, 33},
		{2.2, 15 * time.Second, 33},
		{4.4, 25 * time.Second, 110},
		{0.28, 25 * time.Second, 7},
		{4, time.Second, 4}, // sanity: exact rates already work
	}
	for _, c := range cases {
		s := load.Schedule(load.Mode{Kind: load.KindRate, Rate: c.rate, Duration: c.d})
		if len(s) != c.want {
			last := time.Duration(0)
			if len(s) > 0 {
				last = s[len(s)-1]
			}
			t.Errorf("rate %v duration %v: %d requests (last at %v), want %d (offsets i/rate < duration)",
				c.rate, c.d, len(s), last, c.want)
		}
	}
}
