package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/spec"
)

// baselineOn records a baseline of the fake GPU at used bytes.
func baselineOn(t *testing.T, env *Env, f *fakeGPU, gs GPUSpec, used uint64) {
	t.Helper()
	f.setUsed(used)
	if err := (&Measure{GPUSpec: gs, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, env, "gpu_mem_baseline_mb"); v != round1(mib(used)) {
		t.Fatalf("baseline %v", v)
	}
}

func releaseCheck(gs GPUSpec, within time.Duration, onDirty DirtyPolicy) *ReleaseCheck {
	r := newReleaseCheck().(*ReleaseCheck)
	r.GPUSpec = gs
	r.Within = spec.Duration(within)
	r.Interval = spec.Duration(20 * time.Millisecond)
	r.OnDirty = onDirty
	return r
}

// Without a baseline of the same backend and devices the check cannot judge
// and says which measure step is missing.
func TestReleaseCheckNeedsBaseline(t *testing.T) {
	_, gs := newFakeGPU(t)
	env := newTestEnv(t)
	err := releaseCheck(gs, time.Second, "abort").Run(context.Background(), env)
	if err == nil || err.Error() != "no fake baseline of these devices: add a measure step with baseline: true (same gpu and device) before the launch" {
		t.Errorf("err %v", err)
	}
}

// Memory back within the tolerance (256 MiB) of the baseline passes as soon
// as it is seen, recording gpu_release_s and gpu_mem_after_mb.
func TestReleaseCheckPassesOnceMemoryIsBackNearTheBaseline(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, gib)
	f.setUsed(30 * gib)
	time.AfterFunc(150*time.Millisecond, func() { f.setUsed(gib + 100<<20) }) // within the 256 MiB tolerance
	start := time.Now()
	if err := runWithTimeout(releaseCheck(gs, 5*time.Second, "abort"), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("returned after %v", d)
	}
	if v := mustValue(t, env, "gpu_release_s").(float64); v < 0.1 || v > 3 {
		t.Errorf("gpu_release_s %v", v)
	}
	if v := mustValue(t, env, "gpu_mem_after_mb"); v != 1124.0 {
		t.Errorf("gpu_mem_after_mb %v", v)
	}
}

// Memory still held after `within` fails the check with the usage, the
// baseline and the processes still on the GPU, records gpu_mem_after_mb but
// no gpu_release_s, and is ErrDirtyGPU (the runner's stop) only with
// on_dirty: abort.
func TestReleaseCheckDirtyGPUFailsWithUsageAndProcesses(t *testing.T) {
	for _, onDirty := range []DirtyPolicy{DirtyAbort, DirtyContinue} {
		t.Run(string(onDirty), func(t *testing.T) {
			f, gs := newFakeGPU(t)
			f.procs = []gpu.ProcessMemory{{PID: os.Getpid(), UUID: f.uuid, Used: 20 * gib}}
			env := newTestEnv(t)
			baselineOn(t, env, f, gs, 0)
			f.setUsed(20 * gib)
			start := time.Now()
			err := runWithTimeout(releaseCheck(gs, 200*time.Millisecond, onDirty), env, 10*time.Second)
			if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
				t.Errorf("gave up after %v, within is 200ms", d)
			}
			if err == nil {
				t.Fatal("dirty GPU passed")
			}
			if got := errors.Is(err, ErrDirtyGPU); got != (onDirty == "abort") {
				t.Errorf("errors.Is(err, ErrDirtyGPU) = %v with on_dirty %s", got, onDirty)
			}
			comm, _ := os.ReadFile("/proc/self/comm")
			for _, want := range []string{
				"GPU memory not released",
				"20480 MiB used vs baseline 0 MiB after 2", // 200ms and a little
				fmt.Sprintf("processes still on the GPU: %d (%s, 20480 MiB)", os.Getpid(), strings.TrimSpace(string(comm))),
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if v := mustValue(t, env, "gpu_mem_after_mb"); v != 20480.0 {
				t.Errorf("gpu_mem_after_mb %v", v)
			}
			if _, ok := env.Value("gpu_release_s"); ok {
				t.Error("gpu_release_s recorded for a dirty GPU")
			}
		})
	}
}

// A check whose step timeout ends before `within` is a dirty GPU (so the
// runner aborts), reported just before the deadline.
func TestReleaseCheckStepTimeoutBeforeWithinIsDirty(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, 0)
	f.setUsed(10 * gib)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := releaseCheck(gs, time.Hour, "abort").Run(ctx, env)
	if !errors.Is(err, ErrDirtyGPU) || time.Since(start) > 2*time.Second {
		t.Errorf("step timeout: %v after %v, want ErrDirtyGPU", err, time.Since(start))
	}
}

// An interrupt is not a verdict on the GPU: the check returns
// context.Canceled, never ErrDirtyGPU.
func TestReleaseCheckInterruptIsNoVerdict(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, 0)
	f.setUsed(10 * gib)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	err := releaseCheck(gs, time.Hour, "abort").Run(ctx, env)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDirtyGPU) {
		t.Errorf("interrupt: %v", err)
	}
}

// A reading that fails fails the check with the backend's error.
func TestReleaseCheckReportsTheReadError(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, 0)
	f.setUsed(10 * gib)
	f.mu.Lock()
	f.memErr = errors.New("nvml gone")
	f.mu.Unlock()
	if err := releaseCheck(gs, time.Second, "abort").Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "nvml gone") {
		t.Errorf("read error: %v", err)
	}
}

// When the step's timeout ends before `within`, the failure (recorded as the
// point's error and in result.json) states how long the check really
// waited, or that the step timeout cut it short, never the configured within
// it did not reach: here not "after 1h0m0s" for a check cut after ~300ms.
func TestReleaseCheckCutByStepTimeoutSaysHowLongItWaited(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, 0)
	f.setUsed(10 * gib)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := releaseCheck(gs, time.Hour, "abort").Run(ctx, env)
	if !errors.Is(err, ErrDirtyGPU) {
		t.Fatalf("err %v, want ErrDirtyGPU", err)
	}
	if strings.Contains(err.Error(), "after 1h0m0s") {
		t.Errorf("release check cut after ~300ms by its step timeout reports %q: it did not wait 1h", err)
	}
}

// slowGPU is the fake GPU with a Memory read that takes `delay` and stops
// at the context's end, as the nvidia-smi backend does (exec.CommandContext:
// a query takes 0.1–2 s, longer on 8-GPU nodes without persistence mode).
type slowGPU struct {
	*fakeGPU
	delay time.Duration
}

func (s slowGPU) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, fmt.Errorf("nvidia-smi --query-gpu: %w", ctx.Err())
	}
	return s.fakeGPU.Memory(ctx)
}

// README: "a check cut short by its step timeout counts as not released", so
// the runner starts no further point on the dirty GPU. That holds when the
// step's deadline cuts a slow reading too: the outcome is the dirty verdict
// of the last reading, ErrDirtyGPU with on_dirty: abort, never the bare
// context error. Here: 3 s step timeout, a 500 ms reading and a 10 s interval,
// so the last reading starts at the capped polling deadline and the step
// context cuts it.
func TestReleaseCheckCutByStepTimeoutIsDirty(t *testing.T) {
	f, _ := newFakeGPU(t)
	key := t.Name()
	open.Register("slowfake", func(_ context.Context, opt open.Options) (gpu.Backend, error) {
		if opt.Device != key {
			return nil, fmt.Errorf("no slow fake GPU %q", opt.Device)
		}
		return slowGPU{f, 500 * time.Millisecond}, nil
	})
	gs := GPUSpec{GPU: "slowfake", Device: key}
	env := newTestEnv(t)
	f.setUsed(0)
	if err := (&Measure{GPUSpec: gs, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	f.setUsed(20 * gib)
	r := releaseCheck(gs, time.Hour, "abort")
	r.Interval = spec.Duration(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := r.Run(ctx, env)
	if !errors.Is(err, ErrDirtyGPU) {
		t.Errorf("GPU still holding 20 GiB when the step timeout hit: err %v, want ErrDirtyGPU (the runner only stops on that)", err)
	}
}

// A process whose GPU memory the driver does not report
// (ProcessMemory.Unknown: NVML NOT_AVAILABLE, nvidia-smi [N/A] in containers
// and on MIG) is listed among the processes still on a dirty GPU with its
// memory unknown (e.g. "1234 (python3, memory unknown)"), never as "0 MiB".
func TestReleaseCheckListsUnknownProcessMemoryAsUnknown(t *testing.T) {
	f, gs := newFakeGPU(t)
	f.procs = []gpu.ProcessMemory{{PID: os.Getpid(), UUID: f.uuid, Unknown: true}}
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, 0)
	f.setUsed(20 * gib)
	err := runWithTimeout(releaseCheck(gs, 100*time.Millisecond, "abort"), env, 10*time.Second)
	if !errors.Is(err, ErrDirtyGPU) {
		t.Fatalf("err %v, want ErrDirtyGPU", err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	zero := fmt.Sprintf("%d (%s, 0 MiB)", os.Getpid(), strings.TrimSpace(string(comm)))
	if !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("error %q does not list the process", err)
	}
	if strings.Contains(err.Error(), zero) {
		t.Errorf("process whose GPU memory the driver does not report listed as %q: %v", zero, err)
	}
}

// A baseline is used only for the devices it was read on. The sim backend
// ignores `device` and selects its devices with sim_gpu, so a release check
// reading the simulated H200 finds no baseline taken on the simulated H100
// and says so.
func TestReleaseCheckUsesOnlyABaselineOfTheSameDevices(t *testing.T) {
	t.Setenv("RUNEXP_SIM_GPU_DIR", t.TempDir())
	env := newTestEnv(t)
	h100 := GPUSpec{GPU: "sim", SimGPU: "H100-80GB"}
	h200 := GPUSpec{GPU: "sim", SimGPU: "H200"}
	if err := (&Measure{GPUSpec: h100, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	err := runWithTimeout(releaseCheck(h200, 200*time.Millisecond, "abort"), env, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("release check on the simulated H200 used the H100's baseline (err %v); want a no-baseline error", err)
	}
}
