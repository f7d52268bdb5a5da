package steps

import (
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// A search with max: auto is bounded by the point's recorded
// max_concurrency (the engine's KV capacity); a server meeting the SLOs
// there records the bound as the answer, one load.summary row per probe.
func TestLoadSearchIsBoundedByTheRecordedKVCapacityAndRecordsItsValues(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: time.Millisecond})
	defer srv.Close()
	env := newTestEnv(t)
	env.Set("max_concurrency", 6.7)
	l := newLoadStep(srv.URL, LoadMode{Name: "search", Kind: load.KindSearch, Requests: 6, Max: load.SearchMaxAuto,
		SLO: &load.SLO{P99TTFTms: 10000, TTFTms: 10000}})
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{"search_max_passing": 6.0, "search_first_failing": "", "search_bound": 6.0,
		"search_bound_source": "engine", "search_probes": 2, "search_at_bound": true, "search_binding": ""} {
		if got := mustValue(t, env, name); got != want {
			t.Errorf("%s = %v (%T), want %v", name, got, got, want)
		}
	}
	if g := mustValue(t, env, "search_request_goodput").(float64); g <= 0 {
		t.Errorf("search_request_goodput %v", g)
	}
	rows := env.Tables()["load.summary"]
	if len(rows) != 2 {
		t.Fatalf("%d load.summary rows, want one per probe", len(rows))
	}
	for i, r := range rows {
		if v, _ := r.Get("slo_pass"); v != true {
			t.Errorf("row %d slo_pass %v", i, v)
		}
		if v, _ := r.Get("max_concurrency"); v != 6 {
			t.Errorf("row %d max_concurrency %v", i, v)
		}
		if v, _ := r.Get("slo_margin.p99_ttft_ms"); v == nil {
			t.Errorf("row %d lacks the p99_ttft_ms margin", i)
		}
	}
}
