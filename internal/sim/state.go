package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/proc"
)

// stateFile publishes one server's ServerState atomically (write + rename).
type stateFile struct {
	mu   sync.Mutex
	path string
	st   simgpu.ServerState
}

func newStateFile(dir string, g simgpu.GPU, model string) (*stateFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sim GPU state dir: %w", err)
	}
	pid := os.Getpid()
	st, _ := proc.ReadStat(pid)
	f := &stateFile{
		path: filepath.Join(dir, strconv.Itoa(pid)+".json"),
		st: simgpu.ServerState{
			PID: pid, GPU: g.Name, GPUUUID: g.UUID(), TotalBytes: g.MemoryBytes,
			Phase: "starting", Model: model, StartTicks: st.StartTicks,
		},
	}
	return f, f.write()
}

// update applies fn to the state and writes it.
func (f *stateFile) update(fn func(*simgpu.ServerState)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.st)
	return f.write()
}

// write publishes the state; f.mu is held (or f is not shared yet).
func (f *stateFile) write() error {
	f.st.Updated = time.Now().UTC()
	b, err := json.Marshal(f.st)
	if err != nil {
		return err
	}
	// A failed write or rename removes its temporary file: a full disk must
	// not leave debris in the shared state folder.
	tmp := f.path + ".tmp"
	err = os.WriteFile(tmp, b, 0o644)
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write sim GPU state: %w", err)
	}
	return nil
}

func (f *stateFile) remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := os.Remove(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
