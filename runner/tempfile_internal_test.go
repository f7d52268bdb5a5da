package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/runexp/runexp/steps"
)

// writers are runexp's two ways of writing a file into place through a
// hidden temp file: run files (manifest, plan) and confined artifacts.
var writers = map[string]func(dir, name string, data []byte) error{
	"WriteFileAtomic": func(dir, name string, data []byte) error {
		return WriteFileAtomic(filepath.Join(dir, name), data)
	},
	"writeConfined": writeConfined,
}

func hiddenFiles(t *testing.T, dir string) []string {
	t.Helper()
	var hidden []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			hidden = append(hidden, path)
		}
		return nil
	})
	return hidden
}

// A write that fails the way a full disk does (ENOSPC from write(2))
// removes its temp file and reports the cause.
func TestFailedWriteOfTheDataLeavesNoTempFile(t *testing.T) {
	full := func(fileWriter, []byte) error { return &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC} }
	orig := writeData
	writeData = full
	t.Cleanup(func() { writeData = orig })
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			err := write(dir, "points.csv", []byte("a,b\n"))
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("error %v, want ENOSPC", err)
			}
			if left := hiddenFiles(t, dir); len(left) > 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

// A write whose rename fails (a folder where the file goes) removes its
// temp file too.
func TestFailedRenameLeavesNoTempFile(t *testing.T) {
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "points.csv", "in-the-way"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := write(dir, "points.csv", []byte("a,b\n")); err == nil {
				t.Fatal("rename onto a non-empty folder succeeded")
			}
			if left := hiddenFiles(t, dir); len(left) > 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

// A run whose start fails to write (the disk fills while the spec and plan
// are written) leaves a manifest that says failed, not running, and no
// temp file.
func TestRunThatCannotWriteItsPlanLeavesAFailedManifest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(`version: runexp/v1
name: full
studies:
  - name: s
    steps:
      - {type: exec, with: {command: ["true"]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path, steps.Builtin(), Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	orig := writeData
	t.Cleanup(func() { writeData = orig })
	writes := 0
	writeData = func(f fileWriter, data []byte) error {
		writes++
		if writes == 2 { // spec.yaml is written, plan.txt meets a full disk
			return syscall.ENOSPC
		}
		return orig(f, data)
	}
	if _, err := Execute(context.Background(), p, ExecOptions{}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Execute: %v, want ENOSPC", err)
	}
	m, err := ReadManifest(p.RunDir)
	if err != nil || m.Status != "failed" {
		t.Errorf("manifest %+v, %v; want status failed", m, err)
	}
	if left := hiddenFiles(t, p.RunDir); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}
