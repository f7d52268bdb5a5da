package runner_test

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/testutil"
)

// The shipped SLO experiment runs on the simulator: every point ok, each
// search within ceil(log2(max/min)) + 3 probes, max_passing below
// first_failing where one failed, and the boundary where the simulator
// puts it: latency binds only where max_num_seqs (64) is below the KV
// bound (169 at max_model_len 1024); elsewhere memory binds.
func TestShippedDay007SLOSearchRunsOnTheSimulatorWithinItsProbeBound(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four simulated servers for about 100 s")
	}
	dir := filepath.Join(runShippedOnSim(t, "day007-slo"), "slo-capacity")
	rows := testutil.ReadCSV(t, filepath.Join(dir, "slo_capacity.csv"))
	if len(rows) != 5 {
		t.Fatalf("want header + 4 rows: %v", rows)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for _, c := range []string{"max_model_len", "max_num_seqs", "max_concurrency", "search_max_passing", "search_first_failing",
		"search_binding", "search_probes", "search_bound", "request_goodput", "output_throughput", "status", "error"} {
		if _, ok := col[c]; !ok {
			t.Fatalf("column %s missing: %v", c, rows[0])
		}
	}
	num := func(r []string, c string) float64 {
		v, err := strconv.ParseFloat(r[col[c]], 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", c, r[col[c]], err)
		}
		return v
	}
	latencyBound := 0
	for i, r := range rows[1:] {
		if r[col["status"]] != "ok" {
			t.Fatalf("row %d: %v", i, r)
		}
		if limit := math.Ceil(math.Log2(num(r, "search_bound")/1)) + 3; num(r, "search_probes") > limit {
			t.Errorf("row %d: %v probes, more than %v", i, r[col["search_probes"]], limit)
		}
		if r[col["search_first_failing"]] == "" {
			if num(r, "search_max_passing") != num(r, "search_bound") {
				t.Errorf("row %d: nothing failed, yet max_passing is not the bound: %v", i, r)
			}
			continue
		}
		latencyBound++
		if num(r, "search_max_passing") >= num(r, "search_first_failing") || r[col["search_binding"]] == "" {
			t.Errorf("row %d: %v", i, r)
		}
		if mns := num(r, "max_num_seqs"); num(r, "search_max_passing") > mns*1.1 {
			t.Errorf("row %d: latency binds at %v, well above max_num_seqs %v where queueing starts", i, r[col["search_max_passing"]], mns)
		}
	}
	if latencyBound == 0 {
		t.Error("no point was bound by latency: the search has nothing to find on the simulator")
	}
	notes := readFile(t, filepath.Join(dir, "slo_capacity_notes.md"))
	for _, want := range []string{"SIMULATED", "memory binds, not latency", "p99_ttft_ms fails first"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}
