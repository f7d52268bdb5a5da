package slurm

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// TestSubmissionIsTheOnePlanShows: the sbatch command the executor runs
// for a study is the plan's (runexp plan) submit line, followed by the job
// script it writes.
func TestSubmissionIsTheOnePlanShows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spec.yaml")
	writeFile(t, path, `version: runexp/v1
name: same
vars: {partition: debug}
slurm: {partition: "${partition}", cpus: 2, time: 1m}
studies:
  - name: kv
    sweep: {axes: {n: [1, 2, 3]}}
    steps:
      - {type: sleep, with: {duration: "${n}ms"}}
`)
	p, err := runner.Load(path, steps.Builtin(), runner.Options{RunDir: filepath.Join(dir, "run"), Executor: spec.ExecutorSlurm,
		Overrides: []spec.Override{{Name: "partition", Value: "gpu"}}})
	if err != nil {
		t.Fatal(err)
	}
	run, calls := recorded(t, map[string]string{"sbatch": "12\n"}, nil)
	e := &Executor{CLI: CLI{Run: run}, Options: *p.Slurm}
	s := p.Studies[0]
	a, err := e.submit(t.Context(), &runner.StudyRun{Plan: p, Study: s, Points: s.Points, Out: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 1 || !strings.HasPrefix((*calls)[0], strings.Join(s.Submit, " ")+" "+filepath.Join(a.dir, "job-")) {
		t.Errorf("submitted %q\nplan shows %q", *calls, strings.Join(s.Submit, " "))
	}
	if !strings.Contains(strings.Join(s.Submit, " "), "--array=0-2%1 --job-name=runexp-same-kv") || !strings.Contains(strings.Join(s.Submit, " "), "--partition=gpu") {
		t.Errorf("plan's submit line %q lacks the array of 3 points or the --set partition", s.Submit)
	}
}
