package runner_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// runDirWithin runs RunDirFor and fails the test if it does not answer
// within a second: RunDirFor must give up on a folder it cannot use rather
// than keep looking for a free name.
func runDirWithin(t *testing.T, out string) (string, error) {
	t.Helper()
	type answer struct {
		dir string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		dir, err := runner.RunDirFor(out, "exp", time.Unix(0, 0))
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
	_, err := runner.Load("testdata/good/minimal.yaml", steps.Builtin(), runner.Options{OutDir: file})
	var usage *runner.UsageError
	if !errors.As(err, &usage) {
		t.Fatalf("err = %v (%T), want a *UsageError", err, err)
	}
}

// Two runs of the same experiment started within the same second get their
// own run folders (or the second refuses to start): neither overwrites the
// other's spec, plan, manifest, results and artifacts.
func TestSameSecondRunsGetTheirOwnFolders(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: twice
vars: {tag: first}
studies:
  - name: s
    steps:
      - {type: exec, with: {command: [sh, -c, 'echo ${tag} > ${run.dir}/tag-${tag}']}}
`)
	out := t.TempDir()
	now := time.Now()
	x, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, tag := range []string{"first", "second"} {
		p, err := runner.Compile(x, steps.Builtin(), runner.Options{OutDir: out, Now: now,
			Overrides: []spec.Override{{Name: "tag", Value: tag}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := runner.Execute(context.Background(), p, runner.ExecOptions{})
		if err != nil {
			// refusing to reuse the folder is as good
			continue
		}
		dirs = append(dirs, res.RunDir)
	}
	if len(dirs) == 2 && dirs[0] == dirs[1] {
		m, _ := os.ReadFile(filepath.Join(dirs[0], "manifest.json"))
		t.Fatalf("both runs wrote into %s; the first run's manifest is gone:\n%.300s", dirs[0], m)
	}
}
