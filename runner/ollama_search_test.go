package runner_test

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestShippedOllamaSearchFindsMoreConcurrencyWithMoreSlots: the shipped
// ollama-search experiment on a real Ollama: for OLLAMA_NUM_PARALLEL 1 and
// 4 the concurrency search ends with consistent rows (max_passing below
// first_failing, no more probes than ⌈log₂(max/min)⌉ + 3, every probe a
// row of load.summary), and four slots pass more requests at once than one.
func TestShippedOllamaSearchFindsMoreConcurrencyWithMoreSlots(t *testing.T) {
	bin := ollamaBin(t)
	out := t.TempDir()
	start := time.Now()
	// No --set port: the spec's port: auto reaches Ollama and its ollama-create
	// step through {port}.
	cmd := exec.Command(runexpBin, "../experiments/ollama-search.yaml", "--set", "ollama="+bin, "--out", out)
	output, err := cmd.CombinedOutput()
	t.Logf("ollama-search.yaml ran in %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("runexp: %v\n%s", err, output)
	}
	runs, _ := filepath.Glob(filepath.Join(out, "ollama-search", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run dirs %v", runs)
	}
	t.Logf("search.csv:\n%s", readFile(t, filepath.Join(runs[0], "search", "search.csv")))
	rows := readCSVMaps(t, filepath.Join(runs[0], "search", "search.csv"))
	probes := readCSVMaps(t, filepath.Join(runs[0], "search", "probes.csv"))
	if len(rows) != 2 {
		t.Fatalf("want a row per OLLAMA_NUM_PARALLEL, got %v", rows)
	}
	atoi := func(r map[string]any, k string) int {
		n, err := strconv.Atoi(fmt.Sprint(r[k]))
		if err != nil {
			t.Fatalf("%s=%q: %v (row %v)", k, r[k], err, r)
		}
		return n
	}
	maxProbes := int(math.Ceil(math.Log2(8/1.0))) + 3 // max_level 8, min 1
	passing := map[string]int{}
	for _, r := range rows {
		np := fmt.Sprint(r["num_parallel"])
		if r["status"] != "ok" || r["search_bound"] != "8" || r["search_bound_source"] != "spec" {
			t.Fatalf("num_parallel %s: %v", np, r)
		}
		mp := atoi(r, "search_max_passing")
		if ff := r["search_first_failing"]; ff != "" && atoi(r, "search_first_failing") <= mp {
			t.Errorf("num_parallel %s: max_passing %d not below first_failing %v", np, mp, ff)
		}
		n := atoi(r, "search_probes")
		if n > maxProbes {
			t.Errorf("num_parallel %s: %d probes, more than ⌈log₂(8/1)⌉ + 3 = %d", np, n, maxProbes)
		}
		rowsOfPoint := 0
		for _, p := range probes {
			if fmt.Sprint(p["num_parallel"]) == np {
				rowsOfPoint++
			}
		}
		if rowsOfPoint != n {
			t.Errorf("num_parallel %s: %d probes recorded, %d rows in load.summary", np, n, rowsOfPoint)
		}
		passing[np] = mp
	}
	if passing["4"] <= passing["1"] {
		t.Errorf("4 slots pass %d requests at once, 1 slot %d: want more with more slots", passing["4"], passing["1"])
	}
	assertNoOllama(t, bin)
}
