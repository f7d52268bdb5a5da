package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestResumeUsageErrors: resume wants exactly one folder, and a folder
// that holds no run is a usage error that says so.
func TestResumeUsageErrors(t *testing.T) {
	if code, _, stderr := run("resume"); code != ExitUsage || !strings.Contains(stderr, "want exactly one run folder, got 0") {
		t.Errorf("resume without a folder: exit %d, %q", code, stderr)
	}
	dir := t.TempDir()
	if code, _, stderr := run("resume", dir); code != ExitUsage || !strings.Contains(stderr, "is not a run folder") {
		t.Errorf("resume of an empty folder: exit %d, %q", code, stderr)
	}
}

// TestResumeOfAFinishedRunRunsNothingAndSucceeds: resuming a run whose
// every point is ok keeps them all.
func TestResumeOfAFinishedRunRunsNothingAndSucceeds(t *testing.T) {
	out := t.TempDir()
	if code, stdout, stderr := run(writeSpec(t, okSpec), "--out", out); code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	runs, _ := filepath.Glob(filepath.Join(out, "*", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run folders %v", runs)
	}
	code, stdout, stderr := run("resume", runs[0])
	if code != 0 || !strings.Contains(stdout, "1 point(s) kept, 0 to run, 0 dropped") {
		t.Errorf("resume: exit %d\n%s%s", code, stdout, stderr)
	}
}
