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

func TestReleaseCheckNeedsBaseline(t *testing.T) {
	_, gs := newFakeGPU(t)
	env := newTestEnv(t)
	err := releaseCheck(gs, time.Second, "abort").Run(context.Background(), env)
	if err == nil || err.Error() != "no fake baseline of these devices: add a measure step with baseline: true (same gpu and device) before the launch" {
		t.Errorf("err %v", err)
	}
}

func TestReleaseCheckMemoryReturns(t *testing.T) {
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

func TestReleaseCheckDirty(t *testing.T) {
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

func TestReleaseCheckCancelAndReadError(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, 0)
	f.setUsed(10 * gib)
	// The step's timeout ends before within: the outcome is a dirty GPU
	// (so the runner aborts), reported just before the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := releaseCheck(gs, time.Hour, "abort").Run(ctx, env)
	if !errors.Is(err, ErrDirtyGPU) || time.Since(start) > 2*time.Second {
		t.Errorf("step timeout: %v after %v, want ErrDirtyGPU", err, time.Since(start))
	}
	// An interrupt is not a verdict on the GPU.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err = releaseCheck(gs, time.Hour, "abort").Run(ctx, env)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDirtyGPU) {
		t.Errorf("interrupt: %v", err)
	}
	f.mu.Lock()
	f.memErr = errors.New("nvml gone")
	f.mu.Unlock()
	if err := releaseCheck(gs, time.Second, "abort").Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "nvml gone") {
		t.Errorf("read error: %v", err)
	}
}

// Review 5: when the step's timeout ends before `within`, Run now stops
// polling just before the context deadline (release.go, the ctx.Deadline
// cap), but the failure still says "… after <within>": here "after 1h0m0s"
// for a check that gave up after ~0.3 s. The message (recorded as the
// point's error and in result.json) must state how long the check really
// waited — the time it polled, or that the step timeout cut it short — not
// the configured within it never reached.
func TestReview5ReleaseCheckCutShortSaysHowLongItWaited(t *testing.T) {
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

// Review 5: release.go caps the polling deadline at the step's deadline
// minus min(1 s, remaining/10) so that "a check cut short by its step
// timeout counts as not released" (README) and the runner starts no
// further point on the dirty GPU (ErrDirtyGPU). But a reading that starts
// before that capped deadline and takes longer than the margin is killed by
// the step context: readMemory returns context.DeadlineExceeded and Run
// returns it as is — no ErrDirtyGPU, so the runner's dirtyGPU flag stays
// false and the next point starts on a GPU that still holds 20 GiB. Here:
// 3 s step timeout (margin 300 ms), a 500 ms reading, interval 10 s (so the
// last reading starts exactly at the capped deadline); with the default
// 100 ms interval the same happens whenever the last reading starts within
// its own duration of the step deadline. Correct: once the step's deadline
// cuts a reading (or the wait), the outcome is still the dirty-GPU verdict
// from the last reading, ErrDirtyGPU with on_dirty: abort.
func TestReview5ReleaseCheckSlowReadAtStepDeadlineIsDirty(t *testing.T) {
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

// Review 5: ProcessMemory.Unknown (NVML NOT_AVAILABLE, nvidia-smi [N/A]:
// containers, MIG) means Used is 0 and "means nothing" (gpu.go). measure
// honours it, but release-check's list of processes still on the GPU
// prints p.Used for each (release.go, the Processes loop): "1234 (python3,
// 0 MiB)" — telling the user the leftover process holds nothing, exactly
// where the GPU is dirty. Correct: an unknown amount is shown as unknown
// (e.g. "1234 (python3, memory unknown)"), never as 0 MiB.
func TestReview5ReleaseCheckUnknownProcessMemoryIsNotZero(t *testing.T) {
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

// Review 5: baselineKey (measure.go) is backend name + GPUSpec.Device, "so a
// delta or a release check compares readings of the same devices". The sim
// backend ignores Device and selects its devices with sim_gpu, so a
// baseline read on the simulated H100 is found by a release check (and a
// measure delta) reading the simulated H200: release-check compares an
// H200 reading with an H100 baseline and passes. Correct: a baseline is only
// used for the same devices — e.g. keyed by backend and the UUIDs the
// reading returned (readMemory's t.uuids), which also makes "0" vs the
// device's UUID, "0,1" vs "0, 1", or any device: on host/sim agree — so
// here the release check reports "no sim baseline".
func TestReview5BaselineKeyFollowsSimGPU(t *testing.T) {
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
