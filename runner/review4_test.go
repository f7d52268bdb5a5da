package runner_test

import (
	"context"
	"sync"
	"testing"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/runner"
)

// review4DirtyGPU is a GPU that reads 0 bytes used on its first Memory call
// (the baseline) and 10 GiB ever after: the memory is never released. One
// instance per device name (the spec uses the point id), so every point
// gets its own baseline.
type review4DirtyGPU struct {
	mu    sync.Mutex
	calls int
}

func (g *review4DirtyGPU) Name() string { return "review4dirty" }
func (g *review4DirtyGPU) Devices(context.Context) ([]gpu.Device, error) {
	return []gpu.Device{{UUID: "GPU-review4", Name: "dirty", MemoryTotal: 80 << 30}}, nil
}
func (g *review4DirtyGPU) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
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
	return []gpu.DeviceMemory{{UUID: "GPU-review4", Total: 80 << 30, Used: used, Free: 80<<30 - used}}, nil
}
func (g *review4DirtyGPU) Processes(context.Context, []int) ([]gpu.ProcessMemory, error) {
	return []gpu.ProcessMemory{{PID: 4242, UUID: "GPU-review4", Used: 10 << 30}}, nil
}
func (g *review4DirtyGPU) Telemetry(context.Context) ([]gpu.Sample, error) { return nil, nil }
func (g *review4DirtyGPU) Close() error                                    { return nil }

func init() {
	open.Register("review4dirty", func(context.Context, open.Options) (gpu.Backend, error) {
		return &review4DirtyGPU{}, nil
	})
}

// TestReview4ReleaseCheckTimeoutStillAborts: README: release-check "waits up
// to `within` (1m) until device memory is back within tolerance_mb of the
// baseline ...; otherwise fails with the PIDs still on the GPU and
// (`on_dirty: abort`, the default) no further point of the run starts."
// When the step's own timeout (default 5m) ends before `within` does
// (within: 10m, or timeout lowered as here), ReleaseCheck.Run returns the
// context error from sleepCtx (steps/release.go, the polling loop), which
// does not wrap steps.ErrDirtyGPU, so the runner (runner/run.go, where
// pr.dirtyGPU is set from errors.Is(err, steps.ErrDirtyGPU)) does not
// abort: the next point starts on a GPU whose memory was never released,
// and the error names no process. Correct: a release check that ends
// without seeing the memory return — whether `within` or the step timeout
// ran out first — is a dirty GPU: with on_dirty: abort no further point
// runs (and the PIDs still on the GPU are reported).
func TestReview4ReleaseCheckTimeoutStillAborts(t *testing.T) {
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
        with: {gpu: review4dirty, device: "${point.id}", baseline: true}
      - id: release
        type: release-check
        timeout: 300ms
        with: {gpu: review4dirty, device: "${point.id}", within: 10s, interval: 50ms, on_dirty: abort}
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
