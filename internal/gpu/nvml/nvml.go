//go:build linux && cgo

// Package nvml is the NVML backend (github.com/NVIDIA/go-nvml), the spec's
// `gpu: nvml`. go-nvml dlopens libnvidia-ml.so.1 at run time: New fails with
// an error wrapping gpu.ErrUnavailable when it cannot, and no NVML function is
// called unless Init succeeded (calling one before would crash the process).
//
// Build with CGO_CFLAGS=-Wno-deprecated-declarations to silence go-nvml's
// cgo warnings. Without cgo, or off Linux, New returns an error (stub.go).
package nvml

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	nv "github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/runexp/runexp/internal/gpu"
)

// Name is the spec name of this backend.
const Name = "nvml"

// Options selects devices.
type Options struct {
	// Device is "" (all devices), an NVML index ("0"), a UUID ("GPU-…"), or a
	// comma-separated list of either. NVML numbers GPUs in PCI bus order,
	// which may differ from CUDA's default order: prefer UUIDs.
	Device string
}

// Backend implements gpu.Backend over an nvml.Interface.
type Backend struct {
	lib     nv.Interface
	driver  string
	devices []device

	mu     sync.RWMutex
	closed bool
}

type device struct {
	h     nv.Device
	index int
	uuid  string
	name  string
}

var _ gpu.Backend = (*Backend)(nil)

// New loads the system's libnvidia-ml.so.1 and opens the selected devices.
func New(opt Options) (*Backend, error) {
	return NewWithInterface(nv.New(), opt)
}

// NewWithInterface initialises lib (a real library or a go-nvml mock such as
// mock/dgxh100.New()) and resolves the selected devices. On error lib is
// shut down again.
func NewWithInterface(lib nv.Interface, opt Options) (b *Backend, err error) {
	ret, perr := guard(func() nv.Return { return lib.Init() })
	if perr != nil {
		return nil, gpu.Unavailable("NVML unavailable: nvmlInit: %v; use gpu: nvidia-smi or host", perr)
	}
	switch ret {
	case nv.SUCCESS:
	case nv.ERROR_LIBRARY_NOT_FOUND:
		return nil, gpu.Unavailable("NVML unavailable: libnvidia-ml.so.1 not found; use gpu: nvidia-smi or host")
	default:
		return nil, gpu.Unavailable("NVML unavailable: nvmlInit: %s; use gpu: nvidia-smi or host", retString(ret))
	}
	defer func() {
		if err != nil {
			guard(func() nv.Return { return lib.Shutdown() })
		}
	}()
	b = &Backend{lib: lib}
	b.driver, _, _ = call2(func() (string, nv.Return) { return lib.SystemGetDriverVersion() })

	count, ret, perr := call2(lib.DeviceGetCount)
	if perr != nil || ret != nv.SUCCESS {
		return nil, fmt.Errorf("nvml: device count: %s", why(ret, perr))
	}
	var handles []nv.Device
	if strings.TrimSpace(opt.Device) == "" {
		for i := 0; i < count; i++ {
			h, ret, perr := call2(func() (nv.Device, nv.Return) { return lib.DeviceGetHandleByIndex(i) })
			if perr == nil && ret == nv.ERROR_NO_PERMISSION {
				// Counted but not ours (device cgroups, as under Slurm):
				// nvml.h says GetCount_v2 includes such devices.
				continue
			}
			if perr != nil || ret != nv.SUCCESS {
				return nil, fmt.Errorf("nvml: device %d: %s", i, why(ret, perr))
			}
			handles = append(handles, h)
		}
		if len(handles) == 0 && count > 0 {
			return nil, fmt.Errorf("nvml: none of the %d devices is accessible to this process: %w", count, gpu.ErrUnavailable)
		}
	} else {
		for _, sel := range strings.Split(opt.Device, ",") {
			sel = strings.TrimSpace(sel)
			var h nv.Device
			if i, aerr := strconv.Atoi(sel); aerr == nil {
				if i < 0 || i >= count {
					return nil, fmt.Errorf("nvml: device index %d out of range (NVML sees %d devices)", i, count)
				}
				h, ret, perr = call2(func() (nv.Device, nv.Return) { return lib.DeviceGetHandleByIndex(i) })
			} else {
				h, ret, perr = call2(func() (nv.Device, nv.Return) { return lib.DeviceGetHandleByUUID(sel) })
			}
			if perr != nil || ret != nv.SUCCESS {
				return nil, fmt.Errorf("nvml: device %q: %s", sel, why(ret, perr))
			}
			handles = append(handles, h)
		}
	}
	seen := map[string]bool{}
	for pos, h := range handles {
		d := device{h: h, index: pos}
		if idx, ret, perr := call2(h.GetIndex); perr == nil && ret == nv.SUCCESS {
			d.index = idx
		}
		uuid, ret, perr := call2(h.GetUUID)
		if perr != nil || ret != nv.SUCCESS {
			return nil, fmt.Errorf("nvml: device %d UUID: %s", d.index, why(ret, perr))
		}
		d.uuid = uuid
		d.name, _, _ = call2(h.GetName)
		if seen[d.uuid] {
			continue
		}
		seen[d.uuid] = true
		b.devices = append(b.devices, d)
	}
	return b, nil
}

// Name returns "nvml".
func (b *Backend) Name() string { return Name }

func (b *Backend) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closed {
		return errors.New("nvml: backend closed")
	}
	return nil
}

// Devices lists the selected devices with their total memory.
func (b *Backend) Devices(ctx context.Context) ([]gpu.Device, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	out := make([]gpu.Device, 0, len(b.devices))
	for _, d := range b.devices {
		m, err := d.memory()
		if err != nil {
			return nil, err
		}
		out = append(out, gpu.Device{Index: d.index, UUID: d.uuid, Name: d.name, MemoryTotal: m.Total, Driver: b.driver})
	}
	return out, nil
}

// memory reads nvmlDeviceGetMemoryInfo_v2 where it succeeds (Used excludes
// driver-reserved memory, as nvidia-smi shows; an idle GPU reads ~0), else
// v1, whose Used includes the reserved memory on recent drivers (~615 MiB on
// the H200); it is returned as NVML reports it, and callers compare against
// a baseline read the same way (the measure step's gpu_mem_delta_mb).
func (d device) memory() (gpu.DeviceMemory, error) {
	out := gpu.DeviceMemory{Index: d.index, UUID: d.uuid}
	if m, ret, perr := call2(d.h.GetMemoryInfo_v2); perr == nil && ret == nv.SUCCESS {
		out.Total, out.Used, out.Free, out.Reserved = m.Total, m.Used, m.Free, m.Reserved
		return out, nil
	}
	m, ret, perr := call2(d.h.GetMemoryInfo)
	if perr != nil || ret != nv.SUCCESS {
		return out, fmt.Errorf("nvml: device %d memory: %s", d.index, why(ret, perr))
	}
	out.Total, out.Used, out.Free = m.Total, m.Used, m.Free
	return out, nil
}

// Memory reads each selected device's memory.
func (b *Backend) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	out := make([]gpu.DeviceMemory, 0, len(b.devices))
	for _, d := range b.devices {
		m, err := d.memory()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Processes lists compute and graphics processes on the selected devices
// (one entry per pid and device), keeping only pids when pids is non-nil.
// A process whose memory NVML cannot read (no permission, some containers)
// has Used 0.
func (b *Backend) Processes(ctx context.Context, pids []int) ([]gpu.ProcessMemory, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	var want map[int]bool
	if pids != nil {
		want = make(map[int]bool, len(pids))
		for _, p := range pids {
			want[p] = true
		}
	}
	type key struct {
		pid  int
		uuid string
	}
	found := map[key]gpu.ProcessMemory{}
	for _, d := range b.devices {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var supported bool
		for _, list := range []func() ([]nv.ProcessInfo, nv.Return){d.h.GetComputeRunningProcesses, d.h.GetGraphicsRunningProcesses} {
			infos, ret, perr := call2(list)
			if perr != nil || ret == nv.ERROR_NOT_SUPPORTED {
				continue
			}
			if ret != nv.SUCCESS {
				return nil, fmt.Errorf("nvml: device %d processes: %s", d.index, why(ret, perr))
			}
			supported = true
			for _, p := range infos {
				pid := int(p.Pid)
				if want != nil && !want[pid] {
					continue
				}
				k := key{pid, d.uuid}
				old, seen := found[k]
				if p.UsedGpuMemory == ^uint64(0) { // NVML_VALUE_NOT_AVAILABLE
					if !seen {
						found[k] = gpu.ProcessMemory{PID: pid, UUID: d.uuid, Unknown: true}
					}
					continue
				}
				if !seen || old.Unknown || p.UsedGpuMemory > old.Used {
					found[k] = gpu.ProcessMemory{PID: pid, UUID: d.uuid, Used: p.UsedGpuMemory}
				}
			}
		}
		if !supported {
			return nil, fmt.Errorf("nvml: device %d: process listing not supported", d.index)
		}
	}
	out := make([]gpu.ProcessMemory, 0, len(found))
	for _, pm := range found {
		out = append(out, pm)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UUID != out[j].UUID {
			return out[i].UUID < out[j].UUID
		}
		return out[i].PID < out[j].PID
	})
	return out, nil
}

// Telemetry reads utilisation.gpu (%), power (W) and SM clock (MHz) of each
// selected device; a reading NVML does not support is -1.
func (b *Backend) Telemetry(ctx context.Context) ([]gpu.Sample, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	out := make([]gpu.Sample, 0, len(b.devices))
	for _, d := range b.devices {
		s := gpu.Sample{Time: time.Now(), Index: d.index, UUID: d.uuid, UtilPercent: -1, PowerW: -1, SMClockMHz: -1}
		if u, ret, perr := call2(d.h.GetUtilizationRates); perr == nil && ret == nv.SUCCESS {
			s.UtilPercent = float64(u.Gpu)
		}
		if mw, ret, perr := call2(d.h.GetPowerUsage); perr == nil && ret == nv.SUCCESS {
			s.PowerW = float64(mw) / 1000
		}
		if c, ret, perr := call2(func() (uint32, nv.Return) { return d.h.GetClockInfo(nv.CLOCK_SM) }); perr == nil && ret == nv.SUCCESS {
			s.SMClockMHz = float64(c)
		}
		m, err := d.memory()
		if err != nil {
			return nil, err
		}
		s.MemUsed = m.Used
		out = append(out, s)
	}
	return out, nil
}

// Close shuts NVML down; later calls fail. Close is idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	ret, perr := guard(b.lib.Shutdown)
	if perr != nil || (ret != nv.SUCCESS && ret != nv.ERROR_UNINITIALIZED) {
		return fmt.Errorf("nvml: shutdown: %s", why(ret, perr))
	}
	return nil
}

// guard runs an NVML call, turning a panic (go-nvml mocks panic on methods
// they do not implement) into an error.
func guard(f func() nv.Return) (ret nv.Return, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in NVML call: %v", r)
		}
	}()
	return f(), nil
}

func call2[T any](f func() (T, nv.Return)) (v T, ret nv.Return, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in NVML call: %v", r)
		}
	}()
	v, ret = f()
	return v, ret, nil
}

func why(ret nv.Return, perr error) string {
	if perr != nil {
		return perr.Error()
	}
	return retString(ret)
}

// retString names a Return without calling into a library that may not be
// loaded (nvmlErrorString is only safe after a successful load).
func retString(ret nv.Return) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("NVML return %d", int32(ret))
		}
	}()
	return fmt.Sprintf("%s (%d)", ret.Error(), int32(ret))
}
