package simgpu

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/runexp/runexp/internal/proc"
)

// StateDirEnv names the environment variable that overrides the directory
// where simulated servers publish their GPU allocation.
const StateDirEnv = "RUNEXP_SIM_GPU_DIR"

// StateDir returns $RUNEXP_SIM_GPU_DIR, or os.TempDir()/runexp-simgpu.
func StateDir() string {
	if d := os.Getenv(StateDirEnv); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "runexp-simgpu")
}

// ServerState is the file <StateDir>/<pid>.json a simulated server keeps
// up to date: what it holds on its simulated GPU, for the sim GPU backend.
type ServerState struct {
	PID        int    `json:"pid"`
	GPU        string `json:"gpu"`
	GPUUUID    string `json:"gpu_uuid"`
	TotalBytes uint64 `json:"total_bytes"`
	// UsedBytes is 0 before the weights load, the weights after loading, and
	// weights + activation peak + non-torch + CUDA graphs + KV pool once the
	// KV pool is allocated.
	UsedBytes uint64 `json:"used_bytes"`
	// UtilPercent is the share of the last second of wall time the engine
	// spent in modelled steps, 0–100.
	UtilPercent float64 `json:"util_percent"`
	// Phase is "starting", "loaded", "ready" or "stopping".
	Phase string `json:"phase"`
	Model string `json:"model,omitempty"`
	Port  int    `json:"port,omitempty"`
	// StartTicks is the process start time from /proc/<pid>/stat (field 22),
	// so a reader can tell a recycled pid from the writer.
	StartTicks uint64    `json:"start_ticks,omitempty"`
	Updated    time.Time `json:"updated"`
}

// ReadServerStates returns the states of the live servers in dir. Files of
// processes that are gone (kill(pid, 0) fails, the process is a zombie, or
// its pid was reused) count as released; with prune they are also deleted.
// A missing dir is not an error.
func ReadServerStates(dir string, prune bool) ([]ServerState, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sim GPU state dir: %w", err)
	}
	var out []ServerState
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			continue // removed while we listed it
		}
		var s ServerState
		if err := json.Unmarshal(b, &s); err != nil || s.PID <= 0 {
			continue // not ours, or caught mid-write by a non-atomic writer
		}
		if !ProcessAlive(s.PID, s.StartTicks) {
			if prune {
				_ = os.Remove(path)
			}
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// ProcessAlive reports whether pid names a running (not zombie) process and,
// when startTicks is non-zero and /proc is readable, the same process that
// recorded it.
func ProcessAlive(pid int, startTicks uint64) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	st, ok := proc.ReadStat(pid)
	if !ok {
		return true // no /proc: trust kill(2)
	}
	if st.Zombie() {
		return false
	}
	return startTicks == 0 || st.StartTicks == startTicks
}
