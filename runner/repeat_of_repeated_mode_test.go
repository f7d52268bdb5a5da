package runner_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// repeatedModeSpec: one configuration on two fresh simulated servers
// (sweep repeat: 2), each running a concurrent mode three times (mode
// repeat: 3); the summary folds the servers.
const repeatedModeSpec = `version: runexp/v1
name: mode-reps
studies:
  - name: s
    sweep: {repeat: 2}
    steps:
      - id: server
        type: launch
        with:
          command: [runexp, sim, serve, Qwen/Qwen2.5-0.5B-Instruct, --max-model-len, 1024, --seed, "${repeat}", --port, "{port}"]
          port: %d
      - {id: ready, type: wait-ready, needs: [server]}
      - id: load
        type: load
        needs: [ready]
        with:
          model: Qwen/Qwen2.5-0.5B-Instruct
          max_tokens: 8
          prompt: hello
          modes: [{name: c, kind: concurrent, requests: 8, concurrency: 4, repeat: 3}]
      - {id: stop, type: teardown, needs: [server]}
    artifacts:
      - {path: rows.csv, format: csv, from: load.summary, columns: [repeat, mode, rep, n, output_throughput_mean, output_throughput_ci95_low, output_throughput_ci95_high]}
      - {path: folded.csv, format: csv, from: load.summary, aggregate: repeat, columns: [mode, n, mode_n, output_throughput_mean, output_throughput_ci95_low, output_throughput_ci95_high]}
`

// TestSweepRepeatOfARepeatedModeIntervalsTheServersMeans: on real
// simulated servers, the folded row of the mode's summary has n = 2 (the
// servers), mode_n = 3 (the mode's repetitions in each), the mean of the
// two servers' means, and their Student-t interval (t(0.975, 1) = 12.706),
// not the mean of the servers' inner interval ends.
func TestSweepRepeatOfARepeatedModeIntervalsTheServersMeans(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(runexpBin, writeSpec(t, fmt.Sprintf(repeatedModeSpec, freePort(t))), "--out", out)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runexp: %v\n%s", err, output)
	}
	dir := filepath.Join(mustGlobOne(t, filepath.Join(out, "mode-reps", runDirGlob)), "s")
	var means []float64
	for _, r := range readCSVMaps(t, filepath.Join(dir, "rows.csv")) {
		if r["n"] == "3" { // the mode's summary over its repetitions, one per server
			means = append(means, parseNum(t, r["output_throughput_mean"]))
		}
	}
	if len(means) != 2 {
		t.Fatalf("mode summaries per server: %v, want 2", means)
	}
	var folded []map[string]any
	for _, r := range readCSVMaps(t, filepath.Join(dir, "folded.csv")) {
		if r["mode_n"] == "3" {
			folded = append(folded, r)
		}
	}
	if len(folded) != 1 || folded[0]["n"] != "2" {
		t.Fatalf("folded mode summaries %v, want one with n 2 and mode_n 3", folded)
	}
	r := folded[0]
	mean := (means[0] + means[1]) / 2
	half := 12.706 * abs(means[0]-means[1]) / 2 // s = |a-b|/√2, half = t·s/√2
	got, lo, hi := parseNum(t, r["output_throughput_mean"]), parseNum(t, r["output_throughput_ci95_low"]), parseNum(t, r["output_throughput_ci95_high"])
	if rel(got, mean) > 1e-6 || rel(lo, mean-half) > 1e-6 || rel(hi, mean+half) > 1e-6 {
		t.Errorf("folded %g [%g, %g], want %g ± %g over the servers' means %v", got, lo, hi, mean, half, means)
	}
	t.Logf("servers' mode means %v → folded %g, 95 %% CI %g–%g", means, got, lo, hi)
	assertNoLeftovers(t)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// rel is the difference of got from want relative to want (absolute near 0).
func rel(got, want float64) float64 {
	if abs(want) < 1e-9 {
		return abs(got - want)
	}
	return abs(got-want) / abs(want)
}
