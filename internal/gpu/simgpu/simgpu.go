// Package simgpu is the "sim" GPU backend: it reports the simulated GPUs of
// `runexp sim serve` (internal/sim) as if they were devices.
//
// Each simulated server publishes its allocation in <StateDir>/<pid>.json
// (ServerState). A device's memory used is the sum of used_bytes over
// the live servers on it; files of processes that are gone (crashed or
// SIGKILLed servers, zombies, recycled pids) count as released and are
// deleted when read. Everything here is simulated: utilisation is the share
// of the last second the servers' engines spent in modelled steps (summed
// over the servers on a device, capped at 100), power is linear between the
// preset's idle and TDP watts in that utilisation, and the SM clock is not
// modelled (-1).
//
// With GPU: Launched (what a spec's `gpu: sim` without `sim_gpu` opens) the
// backend has one device, the GPU of the simulated servers that run: its
// name, total and power are those of the live server's preset (the
// longest-running one's, should presets differ), DefaultGPU's when none
// runs, and its UUID is LaunchedUUID whatever the preset, so a baseline
// read before the launch and a release check after the teardown compare
// the same device as the measurement in between.
package simgpu

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/gpu"
)

// Version is what the simulator reports where vLLM reports its version, and
// the driver version of its devices.
const Version = "0.0.0+runexp.sim"

// Options selects the simulated devices.
type Options struct {
	// GPU is a preset name (GPUNames: "H100-80GB", …); "" means
	// DefaultGPU, "all" lists one device per preset, and Launched follows
	// the GPU of the running simulated servers.
	GPU string
	// StateDir is where simulated servers publish their state; "" means
	// StateDir() ($RUNEXP_SIM_GPU_DIR or <tmp>/runexp-simgpu).
	StateDir string
	// Device selects simulated GPUs of the preset by index ("2", "0,1"),
	// as a server's CUDA_VISIBLE_DEVICES does; "" means GPU 0.
	Device string
}

// Launched is the Options.GPU that follows the GPU of the running simulated
// servers (`runexp sim serve --gpu L4` is read as an L4).
const Launched = "launched"

// LaunchedUUID is the UUID of the device of a backend opened with GPU:
// Launched; it does not change with the preset it follows.
const LaunchedUUID = "GPU-sim-launched"

// Backend implements gpu.Backend over simulated servers' state files.
type Backend struct {
	devs    []GPU
	dir     string
	indexed bool // devices chosen by index: report their indices
	follow  bool // GPU: Launched; devs is resolved from the live servers
}

var _ gpu.Backend = (*Backend)(nil)

// New returns the sim backend. An unknown preset is an error that lists
// the presets.
func New(opt Options) (gpu.Backend, error) {
	b := &Backend{dir: opt.StateDir}
	if b.dir == "" {
		b.dir = StateDir()
	}
	if strings.EqualFold(opt.GPU, "all") {
		b.devs = GPUs()
		return b, nil
	}
	if strings.EqualFold(opt.GPU, Launched) {
		b.follow = true
		return b, nil
	}
	g, err := LookupGPU(opt.GPU)
	if err != nil {
		return nil, fmt.Errorf("gpu backend sim: %w", err)
	}
	b.devs = []GPU{g}
	if opt.Device != "" {
		b.devs = nil
		for _, f := range strings.Split(opt.Device, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || i < 0 {
				return nil, fmt.Errorf("gpu backend sim: device %q: want GPU indices such as 0 or 0,1", opt.Device)
			}
			b.devs = append(b.devs, g.At(i))
		}
		b.indexed = true
	}
	return b, nil
}

// deviceIndex is the index the backend reports for its i-th device.
func (b *Backend) deviceIndex(i int) int {
	if b.indexed {
		return b.devs[i].Index()
	}
	return i
}

// Name is "sim".
func (b *Backend) Name() string { return "sim" }

// Close does nothing.
func (b *Backend) Close() error { return nil }

// Devices lists the simulated devices.
func (b *Backend) Devices(ctx context.Context) ([]gpu.Device, error) {
	devs := b.devs
	if b.follow {
		sts, err := b.servers(ctx)
		if err != nil {
			return nil, err
		}
		devs = []GPU{followed(sts)}
	} else if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]gpu.Device, len(devs))
	for i, g := range devs {
		out[i] = gpu.Device{Index: b.deviceIndex(i), UUID: b.uuid(g), Name: g.Product, MemoryTotal: g.MemoryBytes, Driver: "runexp-sim " + Version}
	}
	return out, nil
}

// devices returns the devices read against sts: the fixed presets, or the
// one the live servers run on.
func (b *Backend) devices(sts []ServerState) []GPU {
	if b.follow {
		return []GPU{followed(sts)}
	}
	return b.devs
}

// followed is the preset of the longest-running live server (the lowest
// pid; a recycled pid is excluded by ReadServerStates), or DefaultGPU.
func followed(sts []ServerState) GPU {
	var oldest *ServerState
	for i := range sts {
		if _, err := LookupGPU(sts[i].GPU); err == nil && (oldest == nil || sts[i].PID < oldest.PID) {
			oldest = &sts[i]
		}
	}
	name := DefaultGPU
	if oldest != nil {
		name = oldest.GPU
	}
	g, _ := LookupGPU(name)
	return g
}

// uuid is the device identity of g on this backend.
func (b *Backend) uuid(g GPU) string {
	if b.follow {
		return LaunchedUUID
	}
	return g.UUID()
}

// on reports whether server s runs on device g of this backend; following,
// every live server does.
func (b *Backend) on(s ServerState, g GPU) bool {
	return b.follow || s.GPUUUID == g.UUID()
}

// servers returns the live servers' states, pruning dead ones.
func (b *Backend) servers(ctx context.Context) ([]ServerState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sts, err := ReadServerStates(b.dir, true)
	if err != nil {
		return nil, fmt.Errorf("gpu backend sim: %w", err)
	}
	return sts, nil
}

// Memory reports each device's memory: used is the sum over live servers.
func (b *Backend) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
	sts, err := b.servers(ctx)
	if err != nil {
		return nil, err
	}
	devs := b.devices(sts)
	out := make([]gpu.DeviceMemory, len(devs))
	for i, g := range devs {
		var used uint64
		for _, s := range sts {
			if b.on(s, g) {
				used += s.UsedBytes
			}
		}
		used = min(used, g.MemoryBytes)
		out[i] = gpu.DeviceMemory{Index: b.deviceIndex(i), UUID: b.uuid(g), Total: g.MemoryBytes, Used: used, Free: g.MemoryBytes - used}
	}
	return out, nil
}

// Processes reports the live servers' allocations, for pids (nil: all).
func (b *Backend) Processes(ctx context.Context, pids []int) ([]gpu.ProcessMemory, error) {
	sts, err := b.servers(ctx)
	if err != nil {
		return nil, err
	}
	var out []gpu.ProcessMemory
	for _, s := range sts {
		if !b.has(s.GPUUUID) || (pids != nil && !slices.Contains(pids, s.PID)) {
			continue
		}
		uuid := s.GPUUUID
		if b.follow {
			uuid = LaunchedUUID
		}
		out = append(out, gpu.ProcessMemory{PID: s.PID, UUID: uuid, Used: s.UsedBytes})
	}
	slices.SortFunc(out, func(a, b gpu.ProcessMemory) int { return a.PID - b.PID })
	return out, nil
}

func (b *Backend) has(uuid string) bool {
	if b.follow {
		return true
	}
	for _, g := range b.devs {
		if g.UUID() == uuid {
			return true
		}
	}
	return false
}

// Telemetry reports simulated utilisation, memory and power per device.
func (b *Backend) Telemetry(ctx context.Context) ([]gpu.Sample, error) {
	sts, err := b.servers(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	devs := b.devices(sts)
	out := make([]gpu.Sample, len(devs))
	for i, g := range devs {
		var used uint64
		var util float64
		for _, s := range sts {
			if b.on(s, g) {
				used += s.UsedBytes
				util += s.UtilPercent
			}
		}
		util = min(util, 100)
		out[i] = gpu.Sample{
			Time: now, Index: b.deviceIndex(i), UUID: b.uuid(g), UtilPercent: util, MemUsed: min(used, g.MemoryBytes),
			PowerW: g.PowerWatts(util), SMClockMHz: -1,
		}
	}
	return out, nil
}
