package host

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu"
)

func TestFixture(t *testing.T) {
	ctx := context.Background()
	b, err := New(Options{ProcRoot: "testdata/proc"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	devs, err := b.Devices(ctx)
	if err != nil || len(devs) != 1 || devs[0].UUID != "host" || devs[0].MemoryTotal != 16384000*1024 ||
		devs[0].Name != "host (Test CPU @ 2.0GHz, 2 CPUs)" {
		t.Errorf("devices %+v %v", devs, err)
	}
	mem, err := b.Memory(ctx)
	if err != nil || mem[0].Used != (16384000-4096000)*1024 || mem[0].Free != 4096000*1024 {
		t.Errorf("memory %+v %v", mem, err)
	}
	procs, err := b.Processes(ctx, []int{4242, 4243, 99999})
	want := []gpu.ProcessMemory{
		{PID: 4242, UUID: "host", Used: 512000 * 1024, PSS: 300000 * 1024},
		{PID: 4243, UUID: "host", Used: 2048 * 1024},
	}
	if err != nil || !reflect.DeepEqual(procs, want) {
		t.Errorf("processes %+v %v", procs, err)
	}
	all, err := b.Processes(ctx, nil)
	if err != nil || len(all) != 4 {
		t.Errorf("all processes %+v %v", all, err)
	}
	tree, err := b.Tree(4242)
	if err != nil || !reflect.DeepEqual(tree, []int{4242, 4243, 4244}) {
		t.Errorf("tree %v %v", tree, err)
	}
	tel, err := b.Telemetry(ctx) // counters did not move: unknown
	if err != nil || tel[0].UtilPercent != -1 || tel[0].PowerW != -1 || tel[0].MemUsed != mem[0].Used {
		t.Errorf("telemetry %+v %v", tel, err)
	}
}

func TestParseCPU(t *testing.T) {
	a, err := ParseCPU([]byte("cpu  100 0 100 700 100 0 0 0 0 0\n"))
	if err != nil || a.Total != 1000 || a.Busy != 200 {
		t.Errorf("%+v %v", a, err)
	}
	if _, err := ParseCPU([]byte("intr 1\n")); err == nil {
		t.Error("no cpu line accepted")
	}
	if _, err := ParseCPU([]byte("cpu 1 x 3 4 5\n")); err == nil {
		t.Error("bad number accepted")
	}
}

func TestCPUDelta(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"meminfo", "cpuinfo"} {
		data, _ := os.ReadFile(filepath.Join("testdata/proc", f))
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	write := func(s string) { os.WriteFile(filepath.Join(dir, "stat"), []byte(s), 0o644) }
	write("cpu  100 0 100 700 100 0 0 0 0 0\n")
	b, err := New(Options{ProcRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	write("cpu  175 0 100 725 100 0 0 0 0 0\n") // +75 busy of +100
	tel, _ := b.Telemetry(context.Background())
	if tel[0].UtilPercent != 75 {
		t.Errorf("util %v, want 75", tel[0].UtilPercent)
	}
	tel, _ = b.Telemetry(context.Background()) // no movement: repeat
	if tel[0].UtilPercent != 75 {
		t.Errorf("repeat util %v", tel[0].UtilPercent)
	}
}

func TestMissingProc(t *testing.T) {
	_, err := New(Options{ProcRoot: filepath.Join(t.TempDir(), "nope")})
	if !errors.Is(err, gpu.ErrUnavailable) {
		t.Errorf("missing /proc: %v", err)
	}
}

// The real /proc, measured on the test process and a child it starts.
func TestSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	ctx := context.Background()
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := b.Memory(ctx)
	if err != nil || mem[0].Total == 0 || mem[0].Used == 0 || mem[0].Used > mem[0].Total {
		t.Fatalf("memory %+v %v", mem, err)
	}
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	procs, err := b.Processes(ctx, []int{os.Getpid()})
	runtime.KeepAlive(ballast)
	if err != nil || len(procs) != 1 {
		t.Fatalf("self: %+v %v", procs, err)
	}
	if procs[0].Used < 64<<20 {
		t.Errorf("RSS %d below the 64 MiB ballast", procs[0].Used)
	}
	if _, err := os.Stat("/proc/self/smaps_rollup"); err == nil && (procs[0].PSS == 0 || procs[0].PSS > procs[0].Used) {
		t.Errorf("PSS %d (RSS %d)", procs[0].PSS, procs[0].Used)
	}

	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	tree, err := b.Tree(os.Getpid())
	if err != nil || !contains(tree, cmd.Process.Pid) || !contains(tree, os.Getpid()) {
		t.Errorf("tree %v lacks child %d: %v", tree, cmd.Process.Pid, err)
	}

	b.Telemetry(ctx)
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) { // burn CPU so the counters move
	}
	tel, err := b.Telemetry(ctx)
	if err != nil || tel[0].UtilPercent <= 0 || tel[0].UtilPercent > 100 {
		t.Errorf("telemetry %+v %v", tel, err)
	}
	if !strings.HasPrefix(b.Name(), "host") {
		t.Error(b.Name())
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
