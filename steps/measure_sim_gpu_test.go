package steps

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu/simgpu"
)

// A measure step with `gpu: sim` and no sim_gpu reads the GPU of the
// simulator it measures (`runexp sim serve --gpu L4`), not the default
// H100, and still finds the baseline read before the launch.
func TestMeasureSimReadsTheGPUOfTheLaunchedSimulator(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(simgpu.StateDirEnv, dir)
	env := newTestEnv(t)
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "sim"}, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	l4, _ := simgpu.LookupGPU("L4")
	state, _ := json.Marshal(simgpu.ServerState{PID: os.Getpid(), GPU: l4.Name, GPUUUID: l4.UUID(), TotalBytes: l4.MemoryBytes,
		UsedBytes: 20 * gib, Phase: "ready", Updated: time.Now()})
	if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())+".json"), state, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "sim"}}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, env, "gpu_name"); v != l4.Product {
		t.Errorf("gpu_name %v, want %q (the launched simulator's --gpu)", v, l4.Product)
	}
	if v := mustValue(t, env, "gpu_total_mb"); v != round1(mib(l4.MemoryBytes)) {
		t.Errorf("gpu_total_mb %v, want the L4's", v)
	}
	if v := mustValue(t, env, "gpu_mem_delta_mb"); v != 20480.0 {
		t.Errorf("gpu_mem_delta_mb %v: the baseline read before the launch was not found", v)
	}
}
