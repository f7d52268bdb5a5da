package sim_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/runexp/runexp/internal/gpu/simgpu"
)

// The sim GPU backend opened without a preset (a spec's `gpu: sim` with no
// sim_gpu) reads the GPU of the simulator that runs: `--gpu L4` is an L4,
// not the default H100.
func TestLaunchedSimGPUIsTheOneTheServerWasGiven(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, out := startProcess(t, dir, "Qwen/Qwen2.5-0.5B-Instruct", "--port=0", "--startup-delay=0", "--gpu=L4")
	defer cmd.Process.Kill()
	watchState(t, filepath.Join(dir, strconv.Itoa(cmd.Process.Pid)+".json"), out)
	b, err := simgpu.New(simgpu.Options{GPU: simgpu.Launched, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l4, _ := simgpu.LookupGPU("L4")
	devs, err := b.Devices(t.Context())
	if err != nil || len(devs) != 1 || devs[0].Name != l4.Product || devs[0].MemoryTotal != l4.MemoryBytes {
		t.Fatalf("devices %+v, %v; want the server's L4", devs, err)
	}
	if mem, _ := b.Memory(t.Context()); mem[0].Used == 0 || mem[0].Total != l4.MemoryBytes {
		t.Errorf("memory %+v: the L4 server's allocation not read", mem)
	}
}
