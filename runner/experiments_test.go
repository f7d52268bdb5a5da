package runner_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/testutil"
)

// The README's first command, run end to end (the real runexp binary, the
// real simulated servers over HTTP), writes artifacts that show what the
// experiment is about: KV cache capacity and concurrency against
// max_model_len, sequential against concurrent load, every simulated number
// marked SIMULATED.
func TestShippedDay007RunsOnTheSimulatorAndShowsKVScalingAndBatching(t *testing.T) {
	run := runShippedOnSim(t, "day007")

	rows := testutil.ReadCSV(t, filepath.Join(run, "kv-scaling", "kv_cache_scaling.csv"))
	if len(rows) != 5 {
		t.Fatalf("want header + 4 rows, got %d:\n%v", len(rows), rows)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for _, c := range []string{"max_model_len", "gpu_mem_used_mb", "kv_cache_tokens", "max_concurrency", "predicted_kv_tokens", "status"} {
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
	for i, r := range rows[1:] {
		if r[col["status"]] != "ok" {
			t.Fatalf("row %d: %v", i, r)
		}
		if want := []float64{512, 1024, 2048, 4096}[i]; num(r, "max_model_len") != want {
			t.Errorf("row %d max_model_len %v", i, r[col["max_model_len"]])
		}
		if num(r, "gpu_mem_used_mb") < 10000 {
			t.Errorf("row %d: gpu memory %v MiB is implausibly small for a preallocating engine", i, r[col["gpu_mem_used_mb"]])
		}
		if p, e := num(r, "predicted_kv_tokens"), num(r, "kv_cache_tokens"); math.Abs(p-e)/e > 0.05 {
			t.Errorf("row %d: predicted %v vs engine %v KV tokens", i, p, e)
		}
		if i > 0 {
			ratio := num(rows[i], "max_concurrency") / num(r, "max_concurrency")
			if ratio < 1.8 || ratio > 2.2 {
				t.Errorf("concurrency should roughly halve as max_model_len doubles: ratio %.2f between rows %d and %d", ratio, i-1, i)
			}
		}
	}

	notes := readFile(t, filepath.Join(run, "kv-scaling", "kv_cache_scaling_notes.md"))
	for _, want := range []string{"SIMULATED", rows[1][col["kv_cache_tokens"]], fmt.Sprintf("%.1f×", num(rows[4], "max_concurrency"))} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not mention %q:\n%s", want, notes)
		}
	}
	if n := strings.Count(strings.TrimSpace(notes), "\n"); n < 4 || n > 12 {
		t.Errorf("notes have %d lines", n+1)
	}

	summaries := readCSVMaps(t, filepath.Join(run, "batching", "load_summary.csv"))
	if len(summaries) != 2 {
		t.Fatalf("load summary rows: %v", summaries)
	}
	seq, con := summaries[0], summaries[1]
	if seq["mode"] != "sequential" || con["mode"] != "concurrent" {
		t.Fatalf("modes %v %v", seq["mode"], con["mode"])
	}
	sd, _ := strconv.ParseFloat(seq["duration"].(string), 64)
	cd, _ := strconv.ParseFloat(con["duration"].(string), 64)
	if !(cd < sd) || cd <= 0 {
		t.Errorf("concurrent_s %v should be below sequential_s %v", cd, sd)
	}
	for _, m := range summaries {
		if m["completed"] != "32" || m["failed"] != "0" || m["total_output_tokens"] != "1024" {
			t.Errorf("mode %v: completed %v failed %v tokens %v", m["mode"], m["completed"], m["failed"], m["total_output_tokens"])
		}
		if m["data"] != "SIMULATED" {
			t.Errorf("mode %v: data %q, want SIMULATED (simulated rows must say so)", m["mode"], m["data"])
		}
	}
	for _, f := range []string{"kv-scaling/kv_cache_scaling.svg", "batching/latency.svg"} {
		if !strings.Contains(readFile(t, filepath.Join(run, f)), "SIMULATED") {
			t.Errorf("%s does not say SIMULATED", f)
		}
	}
	bench := readFile(t, filepath.Join(run, "batching", "batching_benchmark.md"))
	for _, want := range []string{"SIMULATED", "sequential_s = ", "concurrent_s = ", "faster", "GPU utilisation"} {
		if !strings.Contains(bench, want) {
			t.Errorf("batching_benchmark.md lacks %q:\n%s", want, bench)
		}
	}
	for _, f := range []string{"kv-scaling/kv_cache_scaling.svg", "batching/latency.svg", "batching/000/requests.jsonl", "manifest.json", "plan.json"} {
		if st, err := os.Stat(filepath.Join(run, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if svg := readFile(t, filepath.Join(run, "kv-scaling", "kv_cache_scaling.svg")); !strings.Contains(svg, "<svg") {
		t.Error("chart is not an SVG")
	}
	var m struct {
		Status string
		Points []struct{ Status string }
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(run, "manifest.json"))), &m); err != nil || m.Status != "ok" || len(m.Points) != 5 {
		t.Errorf("manifest %+v %v", m, err)
	}
	assertNoLeftovers(t)
}
