//go:build linux && cgo

package nvml

import (
	"context"
	"errors"
	"strings"
	"testing"

	nv "github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/runexp/runexp/internal/gpu"
)

const mib = 1 << 20

// withReadings gives every mock device v2 memory (used grows with the index),
// two processes, and telemetry.
func withReadings(s *server.Server) *server.Server {
	for i, d := range s.Devices {
		dev := d.(*server.Device)
		total := dev.MemoryInfo.Total
		used := uint64(i) * 1000 * mib
		dev.GetMemoryInfo_v2Func = func() (nv.Memory_v2, nv.Return) {
			return nv.Memory_v2{Total: total, Reserved: 615 * mib, Used: used, Free: total - used - 615*mib}, nv.SUCCESS
		}
		dev.GetComputeRunningProcessesFunc = func() ([]nv.ProcessInfo, nv.Return) {
			return []nv.ProcessInfo{{Pid: uint32(100 + i), UsedGpuMemory: used}, {Pid: 999, UsedGpuMemory: ^uint64(0)}}, nv.SUCCESS
		}
		dev.GetGraphicsRunningProcessesFunc = func() ([]nv.ProcessInfo, nv.Return) {
			return []nv.ProcessInfo{{Pid: uint32(100 + i), UsedGpuMemory: used}}, nv.SUCCESS
		}
		dev.GetUtilizationRatesFunc = func() (nv.Utilization, nv.Return) { return nv.Utilization{Gpu: uint32(10 * i)}, nv.SUCCESS }
		dev.GetPowerUsageFunc = func() (uint32, nv.Return) { return 123456, nv.SUCCESS }
		dev.GetClockInfoFunc = func(c nv.ClockType) (uint32, nv.Return) {
			if c != nv.CLOCK_SM {
				return 0, nv.ERROR_INVALID_ARGUMENT
			}
			return 1980, nv.SUCCESS
		}
	}
	return s
}

func TestDGXH100(t *testing.T) {
	ctx := context.Background()
	s := withReadings(dgxh100.New())
	b, err := NewWithInterface(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Name() != "nvml" {
		t.Errorf("Name = %q", b.Name())
	}
	devs, err := b.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 8 {
		t.Fatalf("%d devices", len(devs))
	}
	for i, d := range devs {
		if d.Index != i || !strings.HasPrefix(d.UUID, "GPU-") || !strings.Contains(d.Name, "H100") ||
			d.MemoryTotal != 81920*mib || d.Driver != "550.54.15" {
			t.Errorf("device %d: %+v", i, d)
		}
	}
	mem, err := b.Memory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mem[0].Used != 0 || mem[0].Reserved != 615*mib || mem[3].Used != 3000*mib || mem[3].UUID != devs[3].UUID {
		t.Errorf("memory: %+v", mem[:4])
	}
	procs, err := b.Processes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 8 own pids (compute and graphics merged) + pid 999 on every device.
	if len(procs) != 16 {
		t.Errorf("%d processes: %+v", len(procs), procs)
	}
	procs, err = b.Processes(ctx, []int{102, 105, 4242})
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 2 || procs[0].Used == procs[1].Used {
		t.Errorf("filtered: %+v", procs)
	}
	for _, p := range procs {
		want := map[int]string{102: devs[2].UUID, 105: devs[5].UUID}[p.PID]
		if p.UUID != want || p.Used != uint64(p.PID-100)*1000*mib {
			t.Errorf("process %+v", p)
		}
	}
	if p, _ := b.Processes(ctx, []int{999}); len(p) != 8 || p[0].Used != 0 {
		t.Errorf("not-available memory: %+v", p)
	}
	if p, _ := b.Processes(ctx, []int{}); len(p) != 0 {
		t.Errorf("empty pid list matched %+v", p)
	}
	tel, err := b.Telemetry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tel[2].UtilPercent != 20 || tel[2].PowerW != 123.456 || tel[2].SMClockMHz != 1980 || tel[2].MemUsed != 2000*mib || tel[2].Time.IsZero() {
		t.Errorf("telemetry: %+v", tel[2])
	}
}

func TestSelectDevice(t *testing.T) {
	s := withReadings(dgxh100.New())
	uuid3, _ := s.Devices[3].GetUUID()
	for sel, want := range map[string][]int{"5": {5}, uuid3: {3}, " 1 , " + uuid3: {1, 3}, "2,2": {2}} {
		b, err := NewWithInterface(s, Options{Device: sel})
		if err != nil {
			t.Fatalf("%q: %v", sel, err)
		}
		devs, _ := b.Devices(context.Background())
		var got []int
		for _, d := range devs {
			got = append(got, d.Index)
		}
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%q selected %v, want %v", sel, got, want)
		}
		tel, _ := b.Telemetry(context.Background())
		if len(tel) != len(want) {
			t.Errorf("%q telemetry for %d devices", sel, len(tel))
		}
		b.Close()
	}
	for _, sel := range []string{"8", "-1", "GPU-nope"} {
		if _, err := NewWithInterface(s, Options{Device: sel}); err == nil {
			t.Errorf("%q accepted", sel)
		}
	}
}

// With no device selector, devices NVML may not talk to
// (NVML_ERROR_NO_PERMISSION from nvmlDeviceGetHandleByIndex, the normal state
// of a node whose jobs get only some GPUs through device cgroups, e.g. Slurm
// ConstrainDevices) are skipped and the accessible ones opened, as
// nvidia-smi lists only the GPUs it can reach.
func TestAllDevicesSkipsInaccessibleDevices(t *testing.T) {
	s := withReadings(dgxh100.New())
	inner := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nv.Device, nv.Return) {
		if i != 2 && i != 5 { // this job was given GPUs 2 and 5
			return nil, nv.ERROR_NO_PERMISSION
		}
		return inner(i)
	}
	b, err := NewWithInterface(s, Options{})
	if err != nil {
		t.Fatalf("NVML backend failed on a node where 2 of 8 GPUs are accessible: %v", err)
	}
	defer b.Close()
	devs, err := b.Devices(context.Background())
	if err != nil || len(devs) != 2 || devs[0].Index != 2 || devs[1].Index != 5 {
		t.Errorf("devices %+v %v, want the accessible GPUs 2 and 5", devs, err)
	}
}

// The H200 mock without the v2 call: the adapter falls back to v1 and
// missing telemetry reads -1, not 0, and nothing panics.
func TestV1FallbackAndUnsupported(t *testing.T) {
	s := dgxh200.New()
	dev := s.Devices[0].(*server.Device)
	dev.GetMemoryInfoFunc = func() (nv.Memory, nv.Return) {
		return nv.Memory{Total: dev.MemoryInfo.Total, Used: 615 * mib, Free: dev.MemoryInfo.Total - 615*mib}, nv.SUCCESS
	}
	b, err := NewWithInterface(s, Options{Device: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mem, err := b.Memory(context.Background())
	if err != nil || mem[0].Used != 615*mib || mem[0].Reserved != 0 {
		t.Errorf("v1 fallback: %+v %v", mem, err)
	}
	tel, err := b.Telemetry(context.Background())
	if err != nil || tel[0].UtilPercent != -1 || tel[0].PowerW != -1 || tel[0].SMClockMHz != -1 {
		t.Errorf("unsupported telemetry: %+v %v", tel, err)
	}
	if _, err := b.Processes(context.Background(), nil); err == nil {
		t.Error("process listing without support returned no error")
	}
}

func TestUnavailable(t *testing.T) {
	for ret, want := range map[nv.Return]string{
		nv.ERROR_LIBRARY_NOT_FOUND: "NVML unavailable: libnvidia-ml.so.1 not found; use gpu: nvidia-smi or host",
		nv.ERROR_DRIVER_NOT_LOADED: "NVML unavailable: nvmlInit:",
	} {
		lib := &mock.Interface{InitFunc: func() nv.Return { return ret }}
		_, err := NewWithInterface(lib, Options{})
		if err == nil || !errors.Is(err, gpu.ErrUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("Init %d: %v", ret, err)
		}
	}
	// A mock without InitFunc panics inside go-nvml's moq: reported, not raised.
	if _, err := NewWithInterface(&mock.Interface{}, Options{}); err == nil || !errors.Is(err, gpu.ErrUnavailable) {
		t.Errorf("panicking Init: %v", err)
	}
}

// On a machine without libnvidia-ml.so.1 the real constructor must fail
// cleanly (this is the CI case); with the library it must work.
func TestRealLibrary(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		if !errors.Is(err, gpu.ErrUnavailable) {
			t.Fatalf("real NVML: %v", err)
		}
		t.Logf("real NVML: %v", err)
		return
	}
	defer b.Close()
	devs, err := b.Devices(context.Background())
	t.Logf("real NVML devices: %+v %v", devs, err)
}

func TestClosedAndCancelled(t *testing.T) {
	b, err := NewWithInterface(withReadings(dgxh100.New()), Options{Device: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Memory(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Memory(context.Background()); err == nil {
		t.Error("Memory after Close succeeded")
	}
}
