package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/spec"
)

// Tests are grouped by the behaviour they pin, one file per step kind:
// launch, waitready, teardown, release (release-check), telemetry, measure,
// load, exec (exec and sleep). The config validation of every kind is in
// validate_test.go, declared outputs in outputs_test.go, the registry and
// decoding in registry_test.go, Env in env_test.go, the GPU cache in
// gpu_test.go, target resolution in target_test.go. Helpers shared by
// several files live here.

var (
	binDir     string // private directory of the test binaries: a marker in their command lines
	fakeServer string // internal/cmd/fakeserver
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "runexp-steps-test")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	binDir = dir
	// Simulated GPUs of this package's servers only: other packages' tests,
	// run at the same time by go test, keep their own.
	os.Setenv("RUNEXP_SIM_GPU_DIR", filepath.Join(dir, "simgpu"))
	fakeServer = filepath.Join(dir, "fakeserver")
	cmd := exec.Command("go", "build", "-o", fakeServer, "../internal/cmd/fakeserver")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fakeserver:", err)
		return 1
	}
	open.Register("fake", func(_ context.Context, opt open.Options) (gpu.Backend, error) {
		fakesMu.Lock()
		defer fakesMu.Unlock()
		b, ok := fakes[opt.Device]
		if !ok {
			return nil, fmt.Errorf("no fake GPU %q", opt.Device)
		}
		b.opened++
		return b, nil
	})
	return m.Run()
}

// newTestEnv returns an Env whose point folder is a fresh temp dir, with a
// GPU cache that is closed when the test ends. Its cleanups run at the end
// of the test too (they are idempotent), so no server outlives a test.
func newTestEnv(t *testing.T) *Env {
	t.Helper()
	dir := t.TempDir()
	env := NewEnv(dir, dir, dir, "study", spec.Point{}, testLogWriter{t})
	env.GPUs = NewGPUCache(open.Opener{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, err := range env.RunCleanups(ctx) {
			t.Errorf("cleanup: %v", err)
		}
		env.GPUs.Close()
	})
	return env
}

// testLogWriter sends progress output to t.Log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func freePort(t *testing.T) int { return testutil.FreePort(t) }

// pidAlive reports whether pid is a live process (zombies count as gone).
func pidAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return !(i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X'))
}

// assertNoLeftovers fails when a process whose command line mentions marker
// is still alive (after a short grace for the kernel to reap it).
func assertNoLeftovers(t *testing.T, marker string) {
	t.Helper()
	testutil.AssertNoProcesses(t, testutil.CmdlineContains(marker), 3*time.Second)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mustValue returns a recorded value or fails.
func mustValue(t *testing.T, env *Env, name string) any {
	t.Helper()
	v, ok := env.Value(name)
	if !ok {
		t.Fatalf("value %s not recorded (have %v)", name, env.Values().Keys())
	}
	return v
}

var (
	fakesMu sync.Mutex
	fakes   = map[string]*fakeGPU{}
)

const gib = 1 << 30

type fakeGPU struct {
	mu       sync.Mutex
	uuid     string
	total    uint64
	reserved uint64
	used     uint64
	procs    []gpu.ProcessMemory
	util     func() float64 // nil: 0
	memErr   error
	opened   int // guarded by fakesMu
	closed   int
}

// newFakeGPU registers a fake backend for this test and returns it with the
// GPUSpec that opens it.
func newFakeGPU(t *testing.T) (*fakeGPU, GPUSpec) {
	t.Helper()
	key := t.Name()
	f := &fakeGPU{uuid: "GPU-fake-" + strings.ReplaceAll(key, "/", "-"), total: 80 * gib, reserved: gib / 2}
	fakesMu.Lock()
	fakes[key] = f
	fakesMu.Unlock()
	t.Cleanup(func() {
		fakesMu.Lock()
		delete(fakes, key)
		fakesMu.Unlock()
	})
	return f, GPUSpec{GPU: "fake", Device: key}
}

func (f *fakeGPU) setUsed(b uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used = b
}

func (f *fakeGPU) Name() string { return "fake" }

func (f *fakeGPU) Devices(ctx context.Context) ([]gpu.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []gpu.Device{{Index: 0, UUID: f.uuid, Name: "Fake GPU", MemoryTotal: f.total}}, nil
}

func (f *fakeGPU) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.memErr != nil {
		return nil, f.memErr
	}
	return []gpu.DeviceMemory{{UUID: f.uuid, Total: f.total, Used: f.used, Free: f.total - f.used, Reserved: f.reserved}}, nil
}

func (f *fakeGPU) Processes(ctx context.Context, pids []int) ([]gpu.ProcessMemory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gpu.ProcessMemory
	for _, p := range f.procs {
		keep := pids == nil
		for _, q := range pids {
			keep = keep || q == p.PID
		}
		if keep {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeGPU) Telemetry(ctx context.Context) ([]gpu.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	util := 0.0
	if f.util != nil {
		util = f.util()
	}
	used := f.used
	f.mu.Unlock()
	return []gpu.Sample{{Time: time.Now(), UUID: f.uuid, UtilPercent: util, MemUsed: used, PowerW: 100 + util, SMClockMHz: -1}}, nil
}

func (f *fakeGPU) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

var _ gpu.Backend = (*fakeGPU)(nil)

// runWithTimeout runs st with a deadline d from now, as the runner runs a
// step with its timeout.
func runWithTimeout(st Step, env *Env, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return st.Run(ctx, env)
}

// fieldsOf returns the field of every *spec.FieldError in err, in order.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, e := range spec.SplitErrors(err) {
		var fe *spec.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v (%T) is not a *spec.FieldError", e, e)
		}
		out = append(out, fe.Field)
	}
	return out
}
