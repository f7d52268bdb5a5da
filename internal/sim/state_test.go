package sim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runexp/runexp/internal/gpu/simgpu"
)

func TestStateFileFailedWriteLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	f := &stateFile{path: filepath.Join(dir, "1.json"), st: simgpu.ServerState{PID: 1}}
	// A folder where the state file goes makes the rename fail.
	if err := os.Mkdir(f.path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.write(); err == nil {
		t.Fatal("write over a folder succeeded")
	}
	if _, err := os.Stat(f.path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}
