package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/steps"
)

// runDirWithin runs RunDirFor and fails the test if it does not answer
// within a second: the bug this pins was an endless loop.
func runDirWithin(t *testing.T, out string) (string, error) {
	t.Helper()
	type answer struct {
		dir string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		dir, err := RunDirFor(out, "exp", time.Unix(0, 0))
		ch <- answer{dir, err}
	}()
	select {
	case a := <-ch:
		return a.dir, a.err
	case <-time.After(time.Second):
		t.Fatalf("RunDirFor(%q) did not return within a second", out)
		return "", nil
	}
}

func TestRunDirForAFileOnTheWayIsAnErrorAtOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "out")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, out := range []string{file, filepath.Join(file, "deeper")} {
		if _, err := runDirWithin(t, out); err == nil || !strings.Contains(err.Error(), "output folder") {
			t.Errorf("RunDirFor(%q) = %v, want an output folder error", out, err)
		}
	}
	// The experiment's own folder as a file is as bad.
	os.MkdirAll(filepath.Join(dir, "runs"), 0o755)
	os.WriteFile(filepath.Join(dir, "runs", "exp"), nil, 0o644)
	if _, err := runDirWithin(t, filepath.Join(dir, "runs")); err == nil {
		t.Error("a file named like the experiment's folder was accepted")
	}
}

func TestRunDirForFolderItMayNotEnterIsAnError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may enter any folder; this check needs an unprivileged user")
	}
	dir := filepath.Join(t.TempDir(), "locked")
	os.Mkdir(dir, 0o000)
	defer os.Chmod(dir, 0o755)
	if _, err := runDirWithin(t, dir); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v, want permission denied", err)
	}
}

func TestRunDirForTakesTheNextFreeName(t *testing.T) {
	out := t.TempDir()
	first, err := runDirWithin(t, out)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(first, 0o755)
	second, err := runDirWithin(t, out)
	if err != nil || second != first+"-2" {
		t.Fatalf("second = %q, %v; want %q", second, err, first+"-2")
	}
}

func TestCompileWithUnusableOutputFolderIsAUsageError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out")
	os.WriteFile(file, nil, 0o644)
	_, err := Load("testdata/good/minimal.yaml", steps.Builtin(), Options{OutDir: file})
	var usage *UsageError
	if !errors.As(err, &usage) {
		t.Fatalf("err = %v (%T), want a *UsageError", err, err)
	}
}
