package smi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseGPUsOne(t *testing.T) {
	rows, err := ParseGPUs(fixture(t, "query-gpu-h100-idle.csv"), GPUFields)
	if err != nil {
		t.Fatal(err)
	}
	want := []GPURow{{Index: 0, UUID: "GPU-5a8e3c4b-1f2d-7e6a-9b0c-3d4e5f6a7b8c", Name: "NVIDIA H100 80GB HBM3",
		TotalMiB: 81559, UsedMiB: 0, FreeMiB: 81008, ReservedMiB: 551, UtilPercent: 0, PowerW: 69.87, SMClockMHz: 345, Driver: "550.54.15"}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got %+v\nwant %+v", rows, want)
	}
}

func TestParseGPUsSeveral(t *testing.T) {
	rows, err := ParseGPUs(fixture(t, "query-gpu-4xh100-busy.csv"), GPUFields)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	if r := rows[0]; r.UsedMiB != 75813 || r.UtilPercent != 97 || r.PowerW != 612.43 || r.SMClockMHz != 1980 {
		t.Errorf("row 0: %+v", r)
	}
	if r := rows[2]; r.Index != 2 || r.UUID != "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" || r.UsedMiB != 8077 {
		t.Errorf("row 2: %+v", r)
	}
	mem := memoryOf(rows)
	if mem[0].Used != 75813*mib || mem[0].Total != 81559*mib || mem[0].Reserved != 551*mib || mem[0].Free != 5195*mib {
		t.Errorf("memory: %+v", mem[0])
	}
}

func TestParseGPUsPlaceholders(t *testing.T) {
	rows, err := ParseGPUs(fixture(t, "query-gpu-na-fields.csv"), GPUFields)
	if err != nil {
		t.Fatal(err)
	}
	a, b := rows[0], rows[1]
	if a.ReservedMiB != -1 || a.UtilPercent != -1 || a.PowerW != -1 || a.SMClockMHz != -1 || a.UsedMiB != 11 || a.Name != "NVIDIA A10G" {
		t.Errorf("A10G row: %+v", a)
	}
	if b.UsedMiB != -1 || b.FreeMiB != -1 || b.UtilPercent != 3 || b.Driver != "535.183.01" {
		t.Errorf("T4 row: %+v", b)
	}
	if m := memoryOf(rows); m[1].Used != 0 || m[1].Total != 15360*mib {
		t.Errorf("unknown bytes must read 0: %+v", m[1])
	}
	for _, v := range []string{"[N/A]", "[Not Supported]", "N/A", "", "[Insufficient Permissions]"} {
		if !IsNA(v) {
			t.Errorf("IsNA(%q) false", v)
		}
	}
}

func TestParseGPUsErrors(t *testing.T) {
	if _, err := ParseGPUs([]byte("0, GPU-x, name\n"), GPUFields); err == nil {
		t.Error("short line accepted")
	}
	if _, err := ParseGPUs([]byte("x, GPU-x\n"), []string{"index", "uuid"}); err == nil {
		t.Error("bad index accepted")
	}
	rows, err := ParseGPUs(nil, GPUFields)
	if err != nil || len(rows) != 0 {
		t.Errorf("empty: %v %v", rows, err)
	}
}

func TestParseApps(t *testing.T) {
	procs, err := ParseApps(fixture(t, "query-apps-several.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := []gpu.ProcessMemory{
		{PID: 48211, UUID: "GPU-11111111-2222-3333-4444-555555555555", Used: 75232 * mib},
		{PID: 48377, UUID: "GPU-11111111-2222-3333-4444-555555555555", Used: 562 * mib},
		{PID: 50102, UUID: "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", Used: 8068 * mib},
	}
	if !reflect.DeepEqual(procs, want) {
		t.Errorf("got %+v", procs)
	}
	for _, f := range []string{"query-apps-none.csv"} {
		if p, err := ParseApps(fixture(t, f)); err != nil || len(p) != 0 {
			t.Errorf("%s: %v %v", f, p, err)
		}
	}
	if p, err := ParseApps([]byte("No running processes found\n")); err != nil || len(p) != 0 {
		t.Errorf("text form: %v %v", p, err)
	}
	p, err := ParseApps(fixture(t, "query-apps-na.csv"))
	if err != nil || len(p) != 2 || p[0].Used != 0 || p[1].PID != 7002 {
		t.Errorf("[N/A] used_memory: %+v %v", p, err)
	}
	if _, err := ParseApps([]byte("abc, GPU-x, 1\n")); err == nil {
		t.Error("bad pid accepted")
	}
}

// fakeRun serves fixtures by query and records the arguments.
type fakeRun struct {
	gpus, apps string
	oldDriver  bool
	calls      [][]string
}

func (f *fakeRun) run(t *testing.T) Runner {
	return func(ctx context.Context, args ...string) ([]byte, error) {
		f.calls = append(f.calls, args)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("runner called without a deadline")
		}
		q := args[0]
		switch {
		case strings.HasPrefix(q, "--query-gpu="):
			if f.oldDriver && strings.Contains(q, "memory.reserved") {
				return fixture(t, "query-gpu-old-driver.txt"), &RunError{Err: errors.New("exit status 2")}
			}
			return fixture(t, f.gpus), nil
		case strings.HasPrefix(q, "--query-compute-apps="):
			return fixture(t, f.apps), nil
		}
		t.Errorf("unexpected args %v", args)
		return nil, errors.New("bad args")
	}
}

func TestBackend(t *testing.T) {
	ctx := context.Background()
	f := &fakeRun{gpus: "query-gpu-4xh100-busy.csv", apps: "query-apps-several.csv"}
	b, err := New(ctx, Options{Run: f.run(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Name() != "nvidia-smi" {
		t.Error(b.Name())
	}
	want := "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free,memory.reserved,utilization.gpu,power.draw,clocks.sm,driver_version"
	if got := f.calls[0]; got[0] != want || got[1] != "--format=csv,noheader,nounits" || len(got) != 2 {
		t.Errorf("args %v", got)
	}
	devs, err := b.Devices(ctx)
	if err != nil || len(devs) != 4 || devs[3].UUID != "GPU-ffffffff-0000-1111-2222-333333333333" || devs[0].MemoryTotal != 81559*mib || devs[0].Driver != "550.54.15" {
		t.Errorf("devices %+v %v", devs, err)
	}
	tel, err := b.Telemetry(ctx)
	if err != nil || tel[0].UtilPercent != 97 || tel[0].PowerW != 612.43 || tel[0].MemUsed != 75813*mib {
		t.Errorf("telemetry %+v %v", tel, err)
	}
	procs, err := b.Processes(ctx, []int{48377, 50102, 1})
	if err != nil || len(procs) != 2 || procs[0].PID != 48377 {
		t.Errorf("processes %+v %v", procs, err)
	}
	if all, _ := b.Processes(ctx, nil); len(all) != 3 {
		t.Errorf("all processes %+v", all)
	}
}

func TestBackendSelectAndOldDriver(t *testing.T) {
	ctx := context.Background()
	f := &fakeRun{gpus: "query-gpu-no-reserved.csv", apps: "query-apps-several.csv", oldDriver: true}
	b, err := New(ctx, Options{Run: f.run(t), Device: "GPU-5a8e3c4b-1f2d-7e6a-9b0c-3d4e5f6a7b8c"})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := b.Memory(ctx)
	if err != nil || len(mem) != 1 || mem[0].Reserved != 0 || mem[0].Free != 143156*mib || mem[0].Total != 143771*mib {
		t.Fatalf("fallback memory %+v %v", mem, err)
	}
	for _, c := range f.calls {
		if strings.HasPrefix(c[0], "--query-gpu") && c[len(c)-1] != "--id=GPU-5a8e3c4b-1f2d-7e6a-9b0c-3d4e5f6a7b8c" {
			t.Errorf("no --id: %v", c)
		}
	}
	// After the first rejection the reserved field is not asked again.
	n := len(f.calls)
	b.Memory(ctx)
	if len(f.calls) != n+1 || strings.Contains(f.calls[n][0], "reserved") {
		t.Errorf("retried memory.reserved: %v", f.calls[n:])
	}
	// Apps on other GPUs are filtered out by UUID.
	if p, err := b.Processes(ctx, nil); err != nil || len(p) != 0 {
		t.Errorf("processes on an unselected GPU: %+v %v", p, err)
	}
}

// nvidia-smi prints memory.used as "[N/A]", "[Not Supported]" or "[Unknown
// Error]" where it cannot read it (unified-memory GPUs such as GB10, a GPU
// in a bad state). Memory then returns an error naming the memory, as the
// NVML backend does, never a used reading of 0 bytes that release-check
// would take for memory released.
func TestMemoryUnknownUsedIsAnError(t *testing.T) {
	ctx := context.Background()
	for _, na := range []string{"[N/A]", "[Not Supported]", "[Unknown Error]"} {
		run := func(ctx context.Context, args ...string) ([]byte, error) {
			return []byte("0, GPU-0d6e2a1c-9f4b-4c11-8e77-1a2b3c4d5e6f, NVIDIA GB10, 122502, " + na + ", " + na + ", [N/A], 96, 30.1, 2418, 580.95.05\n"), nil
		}
		b, err := New(ctx, Options{Run: run})
		if err != nil {
			t.Fatal(err)
		}
		mem, err := b.Memory(ctx)
		if err == nil {
			t.Errorf("memory.used %s: Memory returned %+v and no error; used reads %d bytes", na, mem, mem[0].Used)
		} else if !strings.Contains(err.Error(), "memory") {
			t.Errorf("memory.used %s: error %q does not say what is unknown", na, err)
		}
	}
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nvidia-smi")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExecRunner(t *testing.T) {
	ctx := context.Background()
	gpus, _ := filepath.Abs("testdata/query-gpu-h100-idle.csv")
	apps, _ := filepath.Abs("testdata/query-apps-several.csv")
	path := writeScript(t, `case "$1" in
--query-gpu=*) cat `+gpus+`;;
--query-compute-apps=*) cat `+apps+`;;
*) echo "bad args" >&2; exit 2;;
esac
`)
	b, err := New(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := b.Memory(ctx)
	if err != nil || mem[0].Reserved != 551*mib {
		t.Errorf("%+v %v", mem, err)
	}
	if p, err := b.Processes(ctx, []int{48211}); err != nil || len(p) != 1 || p[0].Used != 75232*mib {
		t.Errorf("%+v %v", p, err)
	}

	failing := writeScript(t, "cat "+mustAbs(t, "testdata/driver-failed.txt")+"\nexit 9\n")
	_, err = New(ctx, Options{Path: failing})
	if !errors.Is(err, gpu.ErrUnavailable) || !strings.Contains(err.Error(), "couldn't communicate with the NVIDIA driver") {
		t.Errorf("driver failure: %v", err)
	}

	_, err = New(ctx, Options{Path: filepath.Join(t.TempDir(), "no-such-nvidia-smi")})
	if !errors.Is(err, gpu.ErrUnavailable) || !strings.Contains(err.Error(), "nvidia-smi not found") {
		t.Errorf("missing binary: %v", err)
	}

	hang := writeScript(t, "exec sleep 30\n")
	start := time.Now()
	_, err = New(ctx, Options{Path: hang, Timeout: 200 * time.Millisecond})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("hanging nvidia-smi: %v after %v", err, time.Since(start))
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Outputs recorded on the lent H200 (driver 580.159.04): idle, then with a
// python process holding 2 GiB and its child holding 1 GiB.
func TestRecordedH200(t *testing.T) {
	idle, err := ParseGPUs(fixture(t, "real-h200-idle-query-gpu.csv"), GPUFields)
	if err != nil || len(idle) != 1 {
		t.Fatal(idle, err)
	}
	if r := idle[0]; r.UsedMiB != 0 || r.ReservedMiB != 616 || r.TotalMiB != 143771 || r.FreeMiB != 143156 || r.Name != "NVIDIA H200" {
		t.Errorf("idle: %+v", r)
	}
	busy, err := ParseGPUs(fixture(t, "real-h200-busy-query-gpu.csv"), GPUFields)
	if err != nil || busy[0].UsedMiB != 4307 {
		t.Fatal(busy, err)
	}
	apps, err := ParseApps(fixture(t, "real-h200-busy-query-compute-apps.csv"))
	if err != nil || len(apps) != 2 || apps[0].PID != 488 || apps[0].Used != 2658*mib || apps[1].Used != 1634*mib {
		t.Errorf("apps %+v %v", apps, err)
	}
	if none, err := ParseApps(fixture(t, "real-h200-idle-query-compute-apps.csv")); err != nil || len(none) != 0 {
		t.Errorf("idle apps %+v %v", none, err)
	}
}
