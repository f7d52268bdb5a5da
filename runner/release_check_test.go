package runner_test

import (
	"context"
	"sync"
	"testing"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/runner"
)

// neverReleasedGPU is a GPU that reads 0 bytes used on its first Memory call
// (the baseline) and 10 GiB ever after: the memory is never released. Each
// open gives a fresh one and the spec's device is the point id, so every
// point gets its own baseline.
type neverReleasedGPU struct {
	mu    sync.Mutex
	calls int
}

func (g *neverReleasedGPU) Name() string { return "neverreleased" }
func (g *neverReleasedGPU) Devices(context.Context) ([]gpu.Device, error) {
	return []gpu.Device{{UUID: "GPU-never-released", Name: "dirty", MemoryTotal: 80 << 30}}, nil
}
func (g *neverReleasedGPU) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	used := uint64(10 << 30)
	if g.calls == 1 {
		used = 0
	}
	return []gpu.DeviceMemory{{UUID: "GPU-never-released", Total: 80 << 30, Used: used, Free: 80<<30 - used}}, nil
}
func (g *neverReleasedGPU) Processes(context.Context, []int) ([]gpu.ProcessMemory, error) {
	return []gpu.ProcessMemory{{PID: 4242, UUID: "GPU-never-released", Used: 10 << 30}}, nil
}
func (g *neverReleasedGPU) Telemetry(context.Context) ([]gpu.Sample, error) { return nil, nil }
func (g *neverReleasedGPU) Close() error                                    { return nil }

var _ gpu.Backend = (*neverReleasedGPU)(nil)

func init() {
	open.Register("neverreleased", func(context.Context, open.Options) (gpu.Backend, error) {
		return &neverReleasedGPU{}, nil
	})
}

// A release check that ends without seeing the memory return is a dirty
// GPU whether `within` or the step's own timeout ran out first: with
// on_dirty: abort no further point of the run starts.
func TestReleaseCheckCutByStepTimeoutAbortsTheRun(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: dirty
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2]
    steps:
      - id: baseline
        type: measure
        with: {gpu: neverreleased, device: "${point.id}", baseline: true}
      - id: release
        type: release-check
        timeout: 300ms
        with: {gpu: neverreleased, device: "${point.id}", within: 10s, interval: 50ms, on_dirty: abort}
`)
	p := compile(t, path, t.TempDir())
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 2 {
		t.Fatalf("%d points", len(res.Points))
	}
	first, second := res.Points[0], res.Points[1]
	t.Logf("point 1: %s %s: %s", first.Status, first.Phase, first.Error)
	t.Logf("point 2: %s %s: %s", second.Status, second.Phase, second.Error)
	if first.Status != runner.StatusFailed {
		t.Fatalf("point 1 %s: the GPU stayed dirty", first.Status)
	}
	if !res.Aborted || second.Status != runner.StatusSkipped {
		t.Errorf("point 2 ran (status %s, aborted %v) although point 1's release check never saw the memory return (on_dirty: abort)", second.Status, res.Aborted)
	}
}
