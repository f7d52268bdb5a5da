package slurm

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
)

// runScript runs a job script as Slurm would run task index of job 12.
func runScript(t *testing.T, script string, index string) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", path)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID="+index, "SLURM_ARRAY_JOB_ID=12")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestJobScriptRunsItsTasksPoint(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "run exp") // a space: every path is quoted
	os.WriteFile(bin, []byte("#!/bin/sh\necho \"args: $*\"\n"), 0o755)
	marker := filepath.Join(dir, "submitted")
	os.WriteFile(marker, nil, 0o644)
	script := jobScript(bin, "/runs/it's", dir, marker, []string{"kv/000", "kv/001"})
	out, code := runScript(t, script, "1")
	if code != 0 || !strings.Contains(out, "args: run-point /runs/it's kv/001 --job 12_1") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "12_1.started")); err != nil {
		t.Errorf("the task left no marker: %v", err)
	}
}

func TestJobScriptRefusesANodeWithoutTheRunFolder(t *testing.T) {
	dir := t.TempDir()
	script := jobScript("/bin/true", "/runs/x", dir, filepath.Join(dir, "gone"), []string{"kv/000"})
	out, code := runScript(t, script, "0")
	if code != exitNoRunFolder || !strings.Contains(out, "does not see the run folder /runs/x") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestJobScriptRefusesANodeWithoutTheBinary(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "submitted")
	os.WriteFile(marker, nil, 0o644)
	script := jobScript(filepath.Join(dir, "no-runexp"), "/runs/x", dir, marker, []string{"kv/000"})
	out, code := runScript(t, script, "0")
	if code != exitNoBinary || !strings.Contains(out, "does not see the runexp binary") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestSbatchArgsFromTheSlurmBlock(t *testing.T) {
	e := &Executor{Options: spec.Slurm{Partition: "gpu", Account: "lab", QOS: "high", Time: spec.Duration(90 * time.Second),
		GPUsPerPoint: 2, Gres: "gpu:a100:2", CPUs: 8, Memory: "64G", Constraint: "h100", ArrayLimit: 3,
		SbatchArgs: []string{"--exclusive"}}}
	sr := &runner.StudyRun{Plan: &runner.Plan{Experiment: "day007", Parallel: 1}, Study: &runner.StudyPlan{Name: "kv"}}
	got := strings.Join(e.sbatchArgs(sr, "/r/kv/.slurm", 4), " ")
	want := "--array=0-3%3 --job-name=runexp-day007-kv --output=/r/kv/.slurm/%A_%a.log --open-mode=append " +
		"--partition=gpu --account=lab --qos=high --time=1:30 --gpus=2 --gres=gpu:a100:2 --cpus-per-task=8 --mem=64G --constraint=h100 --exclusive"
	if got != want {
		t.Errorf("sbatch %s\nwant   %s", got, want)
	}
}

func TestArrayLimitDefaultsToTheRunsParallel(t *testing.T) {
	e := &Executor{}
	for parallel, want := range map[int]string{0: "--array=0-4%1", 1: "--array=0-4%1", 3: "--array=0-4%3"} {
		sr := &runner.StudyRun{Plan: &runner.Plan{Experiment: "x", Parallel: parallel}, Study: &runner.StudyPlan{Name: "s"}}
		if got := e.sbatchArgs(sr, "/d", 5)[0]; got != want {
			t.Errorf("parallel %d: %s, want %s", parallel, got, want)
		}
	}
}
