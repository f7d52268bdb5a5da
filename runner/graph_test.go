package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
)

// A failed step skips what needs it, an always-step still runs, and
// on_error: abort skips the remaining points with a reason.
func TestOnErrorAbortSkipsTheRemainingPointsAndAlwaysStepsStillRun(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: graph
on_error: abort
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2, 3]
    steps:
      - {id: first, type: exec, with: {command: [sh, -c, 'test ${n} != 2']}}
      - {id: second, type: exec, needs: [first], with: {command: ["true"]}}
      - {id: third, type: exec, needs: [second], with: {command: ["true"]}}
      - {id: cleanup, type: exec, needs: [second], always: true, with: {command: [sh, -c, 'echo ran > ${point.dir}/cleanup-ran']}}
      - {id: slow, type: sleep, timeout: 100ms, with: {duration: 10s}}
    artifacts:
      - {path: points.csv, format: csv, columns: [n, status, phase, error]}
  - name: after
    steps:
      - {type: sleep, with: {duration: 1ms}}
`)
	out := t.TempDir()
	res, err := runner.Execute(context.Background(), compile(t, path, out), runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 4 {
		t.Fatalf("%d points", len(res.Points))
	}
	p1, p2, p3, after := res.Points[0], res.Points[1], res.Points[2], res.Points[3]
	// Point 1: everything ran; the sleep hit its 100ms timeout.
	if p1.Status != "failed" || p1.Phase != "slow" || !strings.Contains(p1.Error, "timed out after 100ms") || !p1.Steps[4].TimedOut {
		t.Errorf("point 1: %s %s %q", p1.Status, p1.Phase, p1.Error)
	}
	// on_error: abort — point 1 failed (timeout), so 2 and 3 and the next study are skipped.
	for _, p := range []*runner.PointResult{p2, p3, after} {
		if p.Status != "skipped" || !strings.Contains(p.Error, "on_error is abort") {
			t.Errorf("point %s/%s: %s %q", p.Study, p.ID, p.Status, p.Error)
		}
	}
	if !res.Aborted || res.ExitCode() != 1 {
		t.Errorf("aborted %v exit %d", res.Aborted, res.ExitCode())
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "s", p1.Slug, "cleanup-ran")); err != nil {
		t.Errorf("always-step did not run: %v", err)
	}
}

// With on_error: continue, a failing step's dependants are skipped with a
// reason naming the step they need, and an always-step runs anyway.
func TestFailedStepSkipsItsDependantsWithAReasonAndAlwaysStepsRun(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: skip
studies:
  - name: s
    steps:
      - {id: first, type: exec, with: {command: ["false"]}}
      - {id: second, type: exec, needs: [first], with: {command: ["true"]}}
      - {id: third, type: exec, needs: [second], with: {command: ["true"]}}
      - {id: cleanup, type: exec, needs: [second], always: true, with: {command: ["true"]}}
`)
	res, err := runner.Execute(context.Background(), compile(t, path, t.TempDir()), runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Points[0]
	got := []string{}
	for _, s := range p.Steps {
		got = append(got, s.ID+":"+string(s.Status))
	}
	if strings.Join(got, " ") != "first:failed second:skipped third:skipped cleanup:ok" {
		t.Errorf("steps: %v", got)
	}
	if p.Steps[1].Reason != "needs first, which failed" || p.Steps[2].Reason != "needs second, which was skipped" {
		t.Errorf("reasons: %q %q", p.Steps[1].Reason, p.Steps[2].Reason)
	}
	if p.Phase != "first" || !strings.Contains(p.Error, "false exited with 1") {
		t.Errorf("phase %q error %q", p.Phase, p.Error)
	}
}
