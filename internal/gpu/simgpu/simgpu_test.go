package simgpu

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func writeState(t *testing.T, dir string, s ServerState) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, strconv.Itoa(s.PID)+".json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestBackend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h100, _ := LookupGPU("H100-80GB")
	l4, _ := LookupGPU("L4")
	live1, live2 := os.Getpid(), os.Getppid()
	writeState(t, dir, ServerState{PID: live1, GPU: h100.Name, GPUUUID: h100.UUID(), TotalBytes: h100.MemoryBytes, UsedBytes: 30 << 30, UtilPercent: 40})
	writeState(t, dir, ServerState{PID: live2, GPU: h100.Name, GPUUUID: h100.UUID(), TotalBytes: h100.MemoryBytes, UsedBytes: 10 << 30, UtilPercent: 80})
	// A server on another simulated device is not this backend's.
	b2, _ := json.Marshal(ServerState{PID: live1, GPU: l4.Name, GPUUUID: l4.UUID(), UsedBytes: 5 << 30})
	os.WriteFile(filepath.Join(dir, "l4-other.json"), b2, 0o644)
	dead := writeState(t, dir, ServerState{PID: deadPID(t), GPU: h100.Name, GPUUUID: h100.UUID(), UsedBytes: 50 << 30})
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{"), 0o644)

	b, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Name() != "sim" {
		t.Errorf("Name %q", b.Name())
	}
	devs, err := b.Devices(t.Context())
	if err != nil || len(devs) != 1 || devs[0].UUID != "GPU-sim-h100-80gb" || devs[0].MemoryTotal != h100.MemoryBytes || !strings.Contains(devs[0].Name, "simulated") {
		t.Fatalf("Devices = %+v, %v", devs, err)
	}
	mem, err := b.Memory(t.Context())
	if err != nil || len(mem) != 1 || mem[0].Used != 40<<30 || mem[0].Free != h100.MemoryBytes-40<<30 {
		t.Fatalf("Memory = %+v, %v", mem, err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("dead server's state file not pruned: %v", err)
	}
	procs, err := b.Processes(t.Context(), nil)
	if err != nil || len(procs) != 2 {
		t.Fatalf("Processes(nil) = %+v, %v", procs, err)
	}
	procs, _ = b.Processes(t.Context(), []int{live1, 999999999})
	if len(procs) != 1 || procs[0].PID != live1 || procs[0].Used != 30<<30 || procs[0].UUID != h100.UUID() {
		t.Errorf("Processes([self]) = %+v", procs)
	}
	tel, err := b.Telemetry(t.Context())
	if err != nil || len(tel) != 1 || tel[0].UtilPercent != 100 || tel[0].PowerW != h100.TDPWatts || tel[0].MemUsed != 40<<30 || tel[0].SMClockMHz != -1 {
		t.Errorf("Telemetry = %+v, %v", tel, err)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	all, err := New(Options{GPU: "all", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	devs, _ := all.Devices(t.Context())
	if len(devs) != len(GPUNames()) {
		t.Errorf("all: %d devices", len(devs))
	}
	for i, d := range devs {
		if d.Index != i {
			t.Errorf("device %d has index %d", i, d.Index)
		}
	}
	// Idle device: zero used, idle power.
	l4, err := New(Options{GPU: "l4", StateDir: filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	tel, err := l4.Telemetry(t.Context())
	if err != nil || tel[0].UtilPercent != 0 || tel[0].PowerW != 16 || tel[0].MemUsed != 0 {
		t.Errorf("idle L4 telemetry %+v, %v", tel, err)
	}
	_, err = New(Options{GPU: "GB300"})
	if err == nil || !strings.Contains(err.Error(), "H100-80GB, H200, A100-40GB, A100-80GB, L4, T4, RTX-4090") {
		t.Errorf("unknown preset error = %v", err)
	}
}
