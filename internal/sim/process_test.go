package sim_test

import (
	"github.com/runexp/runexp/internal/testutil"

	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/modelcfg"
)

type lockedBuf = testutil.Buffer

// startProcess runs the test binary as `runexp sim serve args...` (see
// TestMain) with its GPU state in dir.
func startProcess(t *testing.T, dir string, args ...string) (*exec.Cmd, *lockedBuf) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNEXP_SIM_TEST_ARGS="+strings.Join(args, "\x1f"), simgpu.StateDirEnv+"="+dir)
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, out
}

// watchState polls the server's state file until phase ready, recording
// the distinct (phase, used) values it saw.
func watchState(t *testing.T, path string, out *lockedBuf) []simgpu.ServerState {
	t.Helper()
	var seen []simgpu.ServerState
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		sts, _ := simgpu.ReadServerStates(filepath.Dir(path), false)
		for _, s := range sts {
			if n := len(seen); n == 0 || seen[n-1].Phase != s.Phase || seen[n-1].UsedBytes != s.UsedBytes {
				seen = append(seen, s)
			}
			if s.Phase == "ready" {
				return seen
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("server never became ready; saw %+v; output:\n%s", seen, out)
	return nil
}

func TestStateFileAccounting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"serve", "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "2048", "--port", "0", "--startup-delay", "1s"}
	cmd, out := startProcess(t, dir, args...)
	path := filepath.Join(dir, strconv.Itoa(cmd.Process.Pid)+".json")
	seen := watchState(t, path, out)

	cfg, _ := modelcfg.Resolve("microsoft/Phi-3-mini-4k-instruct")
	g, _ := simgpu.LookupGPU("H100-80GB")
	p, err := modelcfg.Predict(cfg, modelcfg.PredictInput{TotalMemoryBytes: int64(g.MemoryBytes), GPUName: g.Name, MaxModelLen: 2048})
	if err != nil {
		t.Fatal(err)
	}
	loaded := uint64(modelcfg.CUDAContextBytes + p.WeightsBytes)
	full := uint64(modelcfg.CUDAContextBytes + p.WeightsBytes + p.ActivationPeakBytes + p.NonTorchBytes + p.CUDAGraphBytes + p.NumBlocks*p.BlockBytes)
	want := []struct {
		phase string
		used  uint64
	}{{"starting", 0}, {"loaded", loaded}, {"loaded", full}, {"ready", full}}
	if len(seen) != len(want) {
		t.Fatalf("state sequence %+v, want %+v", seen, want)
	}
	for i, w := range want {
		if seen[i].Phase != w.phase || seen[i].UsedBytes != w.used || seen[i].PID != cmd.Process.Pid {
			t.Errorf("state %d = %s/%d, want %s/%d", i, seen[i].Phase, seen[i].UsedBytes, w.phase, w.used)
		}
	}

	// The sim GPU backend sees the allocation, per process and per device.
	b, err := simgpu.New(simgpu.Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := b.Memory(t.Context())
	procs, _ := b.Processes(t.Context(), []int{cmd.Process.Pid})
	if mem[0].Used != full || len(procs) != 1 || procs[0].Used != full {
		t.Errorf("backend: memory %+v, processes %+v; want %d", mem, procs, full)
	}

	// SIGTERM: graceful exit 0, allocation released.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v; output:\n%s", err, out)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file left after SIGTERM: %v", err)
	}
	if mem, _ := b.Memory(t.Context()); mem[0].Used != 0 {
		t.Errorf("memory used %d after exit", mem[0].Used)
	}
	if !strings.Contains(out.String(), "Shutting down FastAPI HTTP server.") {
		t.Errorf("no shutdown line:\n%s", out)
	}
}

func TestStateFileOfKilledServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, out := startProcess(t, dir, "Qwen/Qwen2.5-0.5B-Instruct", "--port=0", "--startup-delay=0", "--gpu=L4")
	path := filepath.Join(dir, strconv.Itoa(cmd.Process.Pid)+".json")
	watchState(t, path, out)
	b, _ := simgpu.New(simgpu.Options{GPU: "L4", StateDir: dir})
	if mem, _ := b.Memory(t.Context()); mem[0].Used == 0 {
		t.Fatal("no memory used by a ready server")
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not yet reaped: a zombie, whose file is still there but released.
	deadline := time.Now().Add(5 * time.Second)
	for simgpu.ProcessAlive(cmd.Process.Pid, 0) {
		if time.Now().After(deadline) {
			t.Fatal("killed server still alive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("SIGKILL should leave the state file: %v", err)
	}
	if sts, _ := simgpu.ReadServerStates(dir, false); len(sts) != 0 {
		t.Errorf("zombie server counted as live: %+v", sts)
	}
	cmd.Wait()
	// Reaped: the backend reports the memory released and prunes the file.
	mem, _ := b.Memory(t.Context())
	procs, _ := b.Processes(t.Context(), nil)
	if mem[0].Used != 0 || len(procs) != 0 {
		t.Errorf("after SIGKILL: memory %+v, processes %+v", mem, procs)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("stale state file not pruned: %v", err)
	}
}
