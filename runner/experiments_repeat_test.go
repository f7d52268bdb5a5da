package runner_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestDay007KVScalingRepeatedOnTheSimulatorFoldsRepetitionsIntoCIs: the
// shipped experiment with --set kv_repeat=2 on real simulated servers runs
// every max-model-len twice (a server each), lists both repetitions in
// kv_cache_scaling.csv, folds them in kv_cache_scaling_summary.csv (n = 2,
// the interval around the mean) and quotes a CI in the notes.
func TestDay007KVScalingRepeatedOnTheSimulatorFoldsRepetitionsIntoCIs(t *testing.T) {
	run := runShippedOnSim(t, "day007", "--set", "kv_repeat=2", "--only", "max_model_len=512", "--only", "max_model_len=4096")
	dir := filepath.Join(run, "kv-scaling")
	rows := readCSVMaps(t, filepath.Join(dir, "kv_cache_scaling.csv"))
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%v/%v/%v", r["max_model_len"], r["repeat"], r["status"]))
	}
	if strings.Join(got, " ") != "512/1/ok 512/2/ok 4096/1/ok 4096/2/ok" {
		t.Errorf("rows (max_model_len/repeat/status): %v", got)
	}
	summary := readCSVMaps(t, filepath.Join(dir, "kv_cache_scaling_summary.csv"))
	if len(summary) != 2 {
		t.Fatalf("summary rows: %v", summary)
	}
	for i, r := range summary {
		if r["max_model_len"] != []string{"512", "4096"}[i] || r["n"] != "2" || r["status"] != "ok" {
			t.Errorf("summary row %d: %v", i, r)
		}
		lo, mean, hi := parseNum(t, r["server_ready_s_ci95_low"]), parseNum(t, r["server_ready_s"]), parseNum(t, r["server_ready_s_ci95_high"])
		if !(lo <= mean && mean <= hi && hi > lo) {
			t.Errorf("summary row %d: server_ready_s %v not inside its interval %v–%v", i, mean, lo, hi)
		}
		if r["kv_cache_tokens_ci95_low"] != r["kv_cache_tokens"] || r["kv_cache_tokens"] != r["kv_cache_tokens_ci95_high"] {
			t.Errorf("summary row %d: the simulator's KV capacity is deterministic, yet its interval is %v–%v around %v",
				i, r["kv_cache_tokens_ci95_low"], r["kv_cache_tokens_ci95_high"], r["kv_cache_tokens"])
		}
	}
	notes := readFile(t, filepath.Join(dir, "kv_cache_scaling_notes.md"))
	for _, want := range []string{"ran on 2 fresh servers", "(95 % CI ", "n=2)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if svg := readFile(t, filepath.Join(dir, "kv_cache_scaling.svg")); strings.Contains(svg, "repeat=") {
		t.Error("the chart splits repetitions into series instead of folding them")
	}
	assertNoLeftovers(t)
}

func parseNum(t *testing.T, v any) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(fmt.Sprint(v), &f); err != nil {
		t.Fatalf("%q is no number: %v", v, err)
	}
	return f
}
