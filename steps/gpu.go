package steps

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/spec"
)

// GPUSpec selects a GPU (or host) backend; it is embedded in the steps that
// read devices.
type GPUSpec struct {
	GPU      GPUBackend `yaml:"gpu" json:"gpu" doc:"device backend; auto tries nvml then nvidia-smi"`
	Device   string     `yaml:"device" json:"device,omitempty" doc:"GPU index or UUID (NVML order); empty means every device"`
	Fallback GPUBackend `yaml:"fallback" json:"fallback,omitempty" doc:"backend to use when gpu is unavailable on this machine, e.g. host"`
	SimGPU   string     `yaml:"sim_gpu" json:"sim_gpu,omitempty" doc:"sim backend: GPU preset (default: the GPU of the running simulated server, e.g. its --gpu L4; H100-80GB when none runs)"`
}

// validate adds the problems of g to p; allowNone is true for the steps that
// may read no device at all (measure).
func (g GPUSpec) validate(p *spec.Problems, allowNone bool) {
	names := gpu.Names() // includes "auto"
	if allowNone && g.GPU == GPUNone {
		return
	}
	if _, ok := gpu.Canonical(string(g.GPU)); !ok {
		if allowNone {
			names = append(names, string(GPUNone))
		}
		p.Add("gpu", "%s", spec.NotInEnum(string(g.GPU), names))
	}
	if _, ok := gpu.Canonical(string(g.Fallback)); g.Fallback != "" && !ok {
		p.Add("fallback", "%s", spec.NotInEnum(string(g.Fallback), gpu.Names()))
	}
}

func (g GPUSpec) key() string {
	return string(g.GPU) + "|" + g.Device + "|" + string(g.Fallback) + "|" + g.SimGPU
}

// GPUCache opens each backend once per run, through the gpu.Opener the
// runner was given, and closes them at the end.
type GPUCache struct {
	opener   gpu.Opener
	mu       sync.Mutex
	backends map[string]gpu.Backend
}

// NewGPUCache returns an empty cache that opens backends with opener.
func NewGPUCache(opener gpu.Opener) *GPUCache {
	return &GPUCache{opener: opener, backends: map[string]gpu.Backend{}}
}

// Open returns the backend for g, opening it on first use.
func (c *GPUCache) Open(ctx context.Context, g GPUSpec) (gpu.Backend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.backends[g.key()]; ok {
		return b, nil
	}
	if c.opener == nil {
		return nil, fmt.Errorf("gpu backend %s: no GPU backend opener configured", g.GPU)
	}
	b, err := c.opener.Open(ctx, gpu.Request{Backend: string(g.GPU), Device: g.Device, Fallback: string(g.Fallback), SimGPU: g.SimGPU})
	if err != nil {
		return nil, fmt.Errorf("gpu backend %s: %w", g.GPU, err)
	}
	c.backends[g.key()] = b
	return b, nil
}

// Devices lists the devices of every opened backend (deduplicated by UUID),
// for the run's manifest.
func (c *GPUCache) Devices(ctx context.Context) []gpu.Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []gpu.Device
	for _, b := range c.backends {
		devs, err := b.Devices(ctx)
		if err != nil {
			continue
		}
		for _, d := range devs {
			if !seen[d.UUID] {
				seen[d.UUID] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// Close closes every opened backend.
func (c *GPUCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for k, b := range c.backends {
		errs = append(errs, b.Close())
		delete(c.backends, k)
	}
	return errors.Join(errs...)
}

// deviceTotals sums memory over the selected devices.
type deviceTotals struct {
	used, total, reserved uint64
	uuids, names          []string
}

func readMemory(ctx context.Context, b gpu.Backend) (deviceTotals, error) {
	var t deviceTotals
	mems, err := b.Memory(ctx)
	if err != nil {
		return t, err
	}
	if len(mems) == 0 {
		return t, fmt.Errorf("backend %s sees no device", b.Name())
	}
	for _, m := range mems {
		t.used += m.Used
		t.total += m.Total
		t.reserved += m.Reserved
		t.uuids = append(t.uuids, m.UUID)
	}
	if devs, err := b.Devices(ctx); err == nil {
		for _, d := range devs {
			t.names = append(t.names, d.Name)
		}
	}
	return t, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// DeviceReader is implemented by the steps that read devices (through their
// embedded GPUSpec): the runner's preflight opens each selected backend once
// before any point runs.
type DeviceReader interface {
	Step
	DeviceSelection() GPUSpec
}

// DeviceSelection is the backend and devices the step reads.
func (g GPUSpec) DeviceSelection() GPUSpec { return g }

// Request is the gpu.Opener request for g.
func (g GPUSpec) Request() gpu.Request {
	return gpu.Request{Backend: string(g.GPU), Device: g.Device, Fallback: string(g.Fallback), SimGPU: g.SimGPU}
}

var (
	_ DeviceReader = (*Measure)(nil)
	_ DeviceReader = (*ReleaseCheck)(nil)
	_ DeviceReader = (*Telemetry)(nil)
)
