package load

import (
	"context"
	"net/http"
	"time"

	"github.com/runexp/runexp/internal/promscrape"
)

// prefixCacheMetrics are vLLM V1's prefix-cache counters (queries and
// hits, in tokens; the text exposition adds "_total"), then the names
// vLLM exposed before renaming them, still served beside the new ones for
// a while.
var prefixCacheMetrics = [][2]string{
	{"vllm:prefix_cache_queries", "vllm:prefix_cache_hits"},
	{"vllm:gpu_prefix_cache_queries", "vllm:gpu_prefix_cache_hits"},
}

// metricKVUsage is vLLM's KV-cache usage gauge (0-1); older versions
// name it vllm:gpu_cache_usage_perc.
var metricKVUsage = []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}

// kvUsageEvery is how often a mode's KV-cache usage is sampled.
const kvUsageEvery = 250 * time.Millisecond

// sampleKVUsage samples the KV-cache usage gauge at url every kvUsageEvery
// until the returned stop is called, which returns the largest reading
// (ok false when the gauge was never read).
func sampleKVUsage(ctx context.Context, hc *http.Client, url string) (stop func() (peak float64, ok bool)) {
	done, finished := make(chan struct{}), make(chan struct{})
	var peak float64
	var ok bool
	read := func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		f, err := promscrape.Fetch(ctx, hc, url)
		if err != nil {
			return
		}
		for _, name := range metricKVUsage {
			if v, found := f.Max(name, nil); found {
				peak, ok = max(peak, v), true
				return
			}
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(kvUsageEvery)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() (float64, bool) {
		close(done)
		<-finished
		return peak, ok
	}
}

// prefixCacheCounters is one reading of the counters; ok is false when
// the server has no /metrics or no such counters.
type prefixCacheCounters struct {
	queries, hits float64
	ok            bool
}

// scrapePrefixCache reads the counters from url, within a few seconds;
// any failure reads as absent.
func scrapePrefixCache(ctx context.Context, hc *http.Client, url string) prefixCacheCounters {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f, err := promscrape.Fetch(ctx, hc, url)
	if err != nil {
		return prefixCacheCounters{}
	}
	for _, names := range prefixCacheMetrics {
		q, okQ := f.Value(names[0], nil)
		h, okH := f.Value(names[1], nil)
		if okQ && okH {
			return prefixCacheCounters{queries: q, hits: h, ok: true}
		}
	}
	return prefixCacheCounters{}
}

// setPrefixCache records on s the counters' growth from before to after
// (the mode's own queries and hits, in tokens) and their ratio; absent
// counters, or counters that went backwards (a restarted server), leave
// the fields unset.
func (s *Summary) setPrefixCache(before, after prefixCacheCounters) {
	if !before.ok || !after.ok {
		return
	}
	q, h := after.queries-before.queries, after.hits-before.hits
	if q < 0 || h < 0 {
		return
	}
	s.PrefixCacheQueries, s.PrefixCacheHits = &q, &h
	if q > 0 {
		rate := h / q
		s.PrefixCacheHitRate = &rate
	}
}
