package simgpu

import (
	"os"
	"testing"
)

// GPU: Launched has one device that takes the preset of the running
// simulated server, and the default preset when none runs, under one UUID.
func TestLaunchedBackendFollowsTheGPUOfTheRunningSimulator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := New(Options{GPU: Launched, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	h100, _ := LookupGPU("")
	idle, err := b.Devices(t.Context())
	if err != nil || len(idle) != 1 || idle[0].Name != h100.Product || idle[0].UUID != LaunchedUUID {
		t.Fatalf("idle devices %+v, %v; want the default preset under %s", idle, err, LaunchedUUID)
	}

	l4, _ := LookupGPU("L4")
	writeState(t, dir, ServerState{PID: os.Getpid(), GPU: l4.Name, GPUUUID: l4.UUID(), TotalBytes: l4.MemoryBytes, UsedBytes: 20 << 30, UtilPercent: 50})
	devs, _ := b.Devices(t.Context())
	if len(devs) != 1 || devs[0].Name != l4.Product || devs[0].MemoryTotal != l4.MemoryBytes || devs[0].UUID != LaunchedUUID {
		t.Errorf("devices %+v; want the simulator's L4", devs)
	}
	mem, _ := b.Memory(t.Context())
	if len(mem) != 1 || mem[0].Used != 20<<30 || mem[0].Total != l4.MemoryBytes || mem[0].UUID != LaunchedUUID {
		t.Errorf("memory %+v", mem)
	}
	procs, _ := b.Processes(t.Context(), []int{os.Getpid()})
	if len(procs) != 1 || procs[0].UUID != LaunchedUUID {
		t.Errorf("processes %+v", procs)
	}
	tel, _ := b.Telemetry(t.Context())
	if len(tel) != 1 || tel[0].PowerW != l4.PowerWatts(50) || tel[0].UUID != LaunchedUUID {
		t.Errorf("telemetry %+v; want the L4's power at 50%%", tel)
	}
}
