package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/testutil"
)

// runDirGlob matches the run folders of a spec (named by their UTC start
// time) and not the latest link beside them.
const runDirGlob = "[0-9]*"

// simRun runs experiments/day007.yaml on the simulator with the runexp
// binary bin and returns its run folder.
func simRun(t *testing.T, bin string, sets ...string) string {
	t.Helper()
	out := t.TempDir()
	args := []string{"../../experiments/day007.yaml", "--set", "engine=sim",
		"--set", fmt.Sprintf("port=%d", testutil.FreePort(t)), "--out", out}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RUNEXP_SIM_GPU_DIR="+t.TempDir())
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runexp %v: %v\n%s", args, err, output)
	}
	return filepath.Join(out, "day007", "latest")
}

// `runexp compare` gates CI: a run against itself exits 0; a run whose
// engine got less GPU memory (so fewer KV tokens) exits 1 and names the KV
// capacity metric; --format markdown is a table for a pull-request
// comment; `runexp report --baseline` adds the comparison to the page.
func TestCompareExitsOneOnlyWhenAMetricRegressed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "runexp")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/runexp").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	base := simRun(t, bin)
	smaller := simRun(t, bin, "gpu_memory_utilization=0.5")

	t.Run("AgainstItself", func(t *testing.T) {
		code, stdout, stderr := run("compare", base, base)
		if code != 0 || !strings.Contains(stdout, "0 regressed") {
			t.Errorf("exit %d, want 0\n%s%s", code, stdout, stderr)
		}
	})
	t.Run("LessKVCacheRegresses", func(t *testing.T) {
		code, stdout, stderr := run("compare", base, smaller, "--format", "markdown")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"| kv-scaling | max_model_len=512 | `kv_cache_tokens` ↑ |", "regressed: ", "kv_cache_tokens"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("markdown output lacks %q:\n%s", want, stdout)
			}
		}
		t.Logf("runexp compare --format markdown:\n%s", stdout)
	})
	t.Run("JSON", func(t *testing.T) {
		code, stdout, _ := run("compare", "--format", "json", base, smaller, "--metric", "kv_cache_tokens")
		var res struct {
			Regressed bool
			Rows      []struct{ Metric, Verdict string }
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 1 || !res.Regressed || len(res.Rows) != 4 {
			t.Errorf("exit %d, %v: %+v\n%s", code, err, res, stdout)
		}
	})
	t.Run("ReportWithBaseline", func(t *testing.T) {
		page := filepath.Join(t.TempDir(), "r.html")
		if code, stdout, stderr := run("report", smaller, "-o", page, "--baseline", base); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		data, _ := os.ReadFile(page)
		if !strings.Contains(string(data), `id="comparison"`) || !strings.Contains(string(data), "kv_cache_tokens") {
			t.Errorf("report has no comparison section")
		}
	})
	t.Run("UsageErrorsExitTwo", func(t *testing.T) {
		for _, args := range [][]string{
			{"compare", base},
			{"compare", base, smaller, "--threshold", "lots"},
			{"compare", base, smaller, "--format", "yaml"},
			{"compare", base, smaller, "--metric", "server_pid"},
			{"compare", base, t.TempDir()},
			{"report"},
		} {
			if code, stdout, stderr := run(args...); code != 2 {
				t.Errorf("%v: exit %d, want 2\n%s%s", args, code, stdout, stderr)
			}
		}
	})
}
