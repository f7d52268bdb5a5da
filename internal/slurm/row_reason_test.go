package slurm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
)

// studyArray is an array of n points in a fresh study folder, as submit
// leaves it.
func studyArray(t *testing.T, n int) *array {
	t.Helper()
	run := t.TempDir()
	s := &runner.StudyPlan{Name: "kv", Dir: filepath.Join(run, "kv")}
	var pts []*runner.PointPlan
	for i := range n {
		id := []string{"000", "001", "002", "003"}[i]
		pts = append(pts, &runner.PointPlan{ID: id, Slug: id, Dir: filepath.Join(s.Dir, id)})
	}
	a := &array{id: "12", dir: filepath.Join(s.Dir, ".slurm"), reported: map[int]bool{},
		sr: &runner.StudyRun{Plan: &runner.Plan{RunDir: run}, Study: s, Points: pts, Out: &strings.Builder{}}}
	os.MkdirAll(a.dir, 0o755)
	return a
}

func TestTimeoutRowNamesTheStateTheLimitAndTheLogTail(t *testing.T) {
	a := studyArray(t, 1)
	os.WriteFile(a.logPath(0), []byte("launching\nserver ready\nrunexp: terminated\n"), 0o644)
	os.WriteFile(a.startedPath(0), nil, 0o644)
	a.task = map[int]Task{0: {State: Timeout, ExitCode: "0:15", Node: "vm"}}
	e := &Executor{Options: spec.Slurm{Time: spec.Duration(time.Minute)}}
	pr := e.row(a, 0, false)
	if pr.Status != runner.StatusFailed || pr.Phase != "slurm" || pr.Job != "12_0" {
		t.Fatalf("row %+v", pr)
	}
	if pr.Error != "slurm task 12_0 TIMEOUT on vm (exit 0:15), time limit 1m0s" {
		t.Errorf("error %q", pr.Error)
	}
	if !strings.Contains(pr.LogTail, "runexp: terminated") {
		t.Errorf("log tail %q", pr.LogTail)
	}
	if _, err := os.Stat(filepath.Join(a.sr.Points[0].Dir, "result.json")); err != nil {
		t.Errorf("no result.json for the failed row: %v", err)
	}
}

func TestInterruptedResultOfACancelledTaskIsAFailedRow(t *testing.T) {
	a := studyArray(t, 1)
	pt := a.sr.Points[0]
	written := runner.UnrunPoint(a.sr.Study, pt, runner.StatusInterrupted, "interrupted")
	if err := runner.WritePointResult(pt.Dir, written); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a.startedPath(0), nil, 0o644)
	a.task = map[int]Task{0: {State: Cancelled, ExitCode: "0:15"}}
	pr := (&Executor{}).row(a, 0, false)
	if pr.Status != runner.StatusFailed || !strings.HasPrefix(pr.Error, "slurm task 12_0 CANCELLED (exit 0:15)") {
		t.Fatalf("row %s: %s", pr.Status, pr.Error)
	}
	// The submitter's own Ctrl-C: the point's interrupted result stands.
	runner.WritePointResult(pt.Dir, written)
	if pr := (&Executor{}).row(a, 0, true); pr.Status != runner.StatusInterrupted {
		t.Errorf("after Ctrl-C: %s, want interrupted", pr.Status)
	}
}

func TestAPointFailedBySlurmIsRowedWithTheState(t *testing.T) {
	a := studyArray(t, 1)
	pt := a.sr.Points[0]
	failed := runner.UnrunPoint(a.sr.Study, pt, runner.StatusFailed, "exec exited with -1")
	runner.WritePointResult(pt.Dir, failed)
	os.WriteFile(a.startedPath(0), nil, 0o644)
	a.task = map[int]Task{0: {State: Cancelled, ExitCode: "0:15"}}
	pr := (&Executor{}).row(a, 0, false)
	if pr.Phase != "slurm" || pr.Error != "slurm task 12_0 CANCELLED (exit 0:15); the point had reached: exec exited with -1" {
		t.Errorf("row %s %q", pr.Phase, pr.Error)
	}
	// A point that failed by itself keeps its own phase and error.
	runner.WritePointResult(pt.Dir, failed)
	a.task = map[int]Task{0: {State: Failed, ExitCode: "1:0"}}
	if pr := (&Executor{}).row(a, 0, false); pr.Phase != "" || pr.Error != "exec exited with -1" {
		t.Errorf("own failure: %s %q", pr.Phase, pr.Error)
	}
}

func TestATasksOwnResultStands(t *testing.T) {
	a := studyArray(t, 1)
	pt := a.sr.Points[0]
	ok := &runner.PointResult{Study: "kv", ID: pt.ID, Slug: pt.Slug, Status: runner.StatusOK}
	runner.WritePointResult(pt.Dir, ok)
	a.task = map[int]Task{0: {State: Completed}}
	if pr := (&Executor{}).row(a, 0, false); pr.Status != runner.StatusOK || pr.Job != "12_0" {
		t.Fatalf("row %+v", pr)
	}
}

func TestATaskThatEndedWithoutAResult(t *testing.T) {
	a := studyArray(t, 3)
	for i := range 3 {
		os.WriteFile(a.startedPath(i), nil, 0o644)
	}
	os.Remove(a.startedPath(2))
	a.task = map[int]Task{
		0: {State: Failed, ExitCode: "0:9", Node: "vm"},
		1: {State: stateForgotten},
		2: {State: Completed, Node: "n7"},
	}
	e := &Executor{}
	for i, want := range []string{
		"slurm task 12_0 FAILED on vm (exit 0:9) without writing result.json",
		"slurm task 12_1 ended (Slurm no longer knows how) without writing result.json",
		"slurm task 12_2 on n7 ran (COMPLETED) but this host does not see its marker",
	} {
		if pr := e.row(a, i, false); pr.Status != runner.StatusFailed || !strings.HasPrefix(pr.Error, want) {
			t.Errorf("task %d: %s %q, want %q", i, pr.Status, pr.Error, want)
		}
	}
}

func TestNodeWithoutTheRunFolderIsNamedInTheRow(t *testing.T) {
	a := studyArray(t, 1)
	a.task = map[int]Task{0: {State: Failed, ExitCode: "97:0", Node: "n3"}}
	pr := (&Executor{}).row(a, 0, false)
	if !strings.Contains(pr.Error, "n3 does not see the run folder") || !strings.Contains(pr.Error, "file system every node shares") {
		t.Errorf("error %q", pr.Error)
	}
}
