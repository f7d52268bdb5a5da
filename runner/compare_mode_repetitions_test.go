package runner_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareOfDay007RunsWithRepeatedModesRunsWelchWithinOneServer: two
// runs of the shipped experiment with --set batching_repeat=3 on the
// simulator (each mode 3 times on its one server) compared by `runexp
// compare`: concurrent_output_throughput is each mode's mean ± interval
// (n=3) per side with a Welch test, and the row says the n is within one
// server. The runs go at once (the simulator mostly waits), each on its
// own port and simulated GPUs.
func TestCompareOfDay007RunsWithRepeatedModesRunsWelchWithinOneServer(t *testing.T) {
	var runs [2]string
	var cmds [2]*exec.Cmd
	var outputs [2]strings.Builder
	for i := range cmds {
		out := t.TempDir()
		cmd := exec.Command(runexpBin, "../experiments/day007.yaml", "--set", "engine=sim",
			"--set", fmt.Sprintf("port=%d", freePort(t)), "--set", "batching_repeat=3", "--set", "max_model_len=[512]", "--out", out)
		cmd.Env = append(os.Environ(), "RUNEXP_SIM_GPU_DIR="+t.TempDir())
		cmd.Stdout, cmd.Stderr = &outputs[i], &outputs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i], runs[i] = cmd, out
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, outputs[i].String())
		}
		runs[i] = mustGlobOne(t, filepath.Join(runs[i], "day007", runDirGlob))
	}
	const metric = "concurrent_output_throughput"
	text, code := runexpOutput(t, "compare", runs[0], runs[1], "--metric", metric, "--metric", "concurrent_p99_ttft_ms")
	t.Logf("runexp compare (exit %d):\n%s", code, text)
	js, _ := runexpOutput(t, "compare", runs[0], runs[1], "--metric", metric, "--format", "json")
	var res struct {
		Rows []struct {
			Study, Metric, Note string
			Base                float64
			BaseN               int `json:"base_n"`
			NewN                int `json:"new_n"`
			Welch               *struct{ DF float64 }
		}
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil || len(res.Rows) != 1 {
		t.Fatalf("%v\n%s", err, js)
	}
	r := res.Rows[0]
	var point struct{ Values map[string]any }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(runs[0], "batching", "000", "result.json"))), &point); err != nil {
		t.Fatal(err)
	}
	if r.Study != "batching" || r.BaseN != 3 || r.NewN != 3 || r.Welch == nil || !(r.Welch.DF >= 2) || !strings.Contains(r.Note, "one server") {
		t.Errorf("row %+v, want n=3 a side, a Welch test and the one-server note", r)
	}
	if mean, _ := point.Values[metric+"_mean"].(float64); math.Abs(r.Base-mean) > 1e-9*mean || mean == 0 {
		t.Errorf("base %v, want the mode's mean %v (the pooled value is %v)", r.Base, mean, point.Values[metric])
	}
	for _, want := range []string{"(n=3)", "(Welch t=", "concurrent_p99_ttft_ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("compare output lacks %q", want)
		}
	}
	assertNoLeftovers(t)
}

// runexpOutput runs the runexp binary and returns its output and exit
// status; compare exits 1 on a regression, which the simulator's noise
// may show, so only other failures fail the test.
func runexpOutput(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(runexpBin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code > 1 {
		t.Fatalf("runexp %v: exit %d\n%s", args, code, out)
	}
	return string(out), code
}
