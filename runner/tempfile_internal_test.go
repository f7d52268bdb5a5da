package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
