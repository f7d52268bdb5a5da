package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// On a machine without vLLM the README's first command stops before any
// point: exit 2 within a second, the hint in terms of the spec's vars, and
// no run folder.
func TestRunWithoutTheEngineExitsTwoAtOnceWithTheSimHintAndNoRunFolder(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing on it, vllm least of all
	out := t.TempDir()
	start := time.Now()
	code, stdout, stderr := run("../../experiments/day007.yaml", "--out", out)
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s, want under a second", took)
	}
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitUsage, stdout, stderr)
	}
	if want := "vllm not found on PATH (var engine=vllm); to use the built-in simulator: --set engine=sim"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("the run wrote %v in %s", entries, out)
	}
}

func TestCheckRunsOnlyThePreflight(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	spec, err := filepath.Abs("../../experiments/day007.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	code, _, stderr := run("check", spec)
	if code != ExitUsage || !strings.Contains(stderr, "--set engine=sim") {
		t.Errorf("check: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := run("check", spec, "--set", "engine=sim")
	if code != ExitOK || !strings.Contains(stdout, "ready to run") {
		t.Errorf("check --set engine=sim: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat("runs"); err == nil {
		t.Error("check created runs/")
	}
}
