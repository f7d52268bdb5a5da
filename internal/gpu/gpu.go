// Package gpu defines the one small interface every GPU (or host) memory
// backend implements: nvml, nvidia-smi, host and sim. Backends live in
// sub-packages; internal/gpu/open picks one by the name written in a spec.
//
// Contract: all byte counts are bytes (not MiB); Index is the backend's own
// device order (NVML/PCI order, not CUDA's); UUID identifies a device in
// artifacts. Implementations must be safe for concurrent use, must honour ctx,
// and must return an error (never panic) when their library or tool is missing.
package gpu

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable is wrapped by every backend constructor whose library, tool
// or device is missing on this machine (NVML not loadable, nvidia-smi not on
// PATH, no /proc), so "auto" selection can fall back with errors.Is.
var ErrUnavailable = errors.New("gpu backend unavailable")

// Unavailable formats an error that reads as the message alone and matches
// ErrUnavailable under errors.Is.
func Unavailable(format string, args ...any) error {
	return &unavailableError{fmt.Sprintf(format, args...)}
}

type unavailableError struct{ msg string }

func (e *unavailableError) Error() string        { return e.msg }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// Device is one accelerator (or, for the host backend, the host itself).
type Device struct {
	Index       int    `json:"index"`
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	MemoryTotal uint64 `json:"memory_total_bytes"`
	Driver      string `json:"driver,omitempty"`
}

// DeviceMemory is one device's memory at one instant. Used excludes memory the
// driver reserves for itself (NVML v2 semantics, as nvidia-smi shows), so an
// idle GPU reads about zero.
type DeviceMemory struct {
	Index    int    `json:"index"`
	UUID     string `json:"uuid"`
	Total    uint64 `json:"total_bytes"`
	Used     uint64 `json:"used_bytes"`
	Free     uint64 `json:"free_bytes"`
	Reserved uint64 `json:"reserved_bytes"`
}

// ProcessMemory is the memory one process holds on one device.
type ProcessMemory struct {
	PID  int    `json:"pid"`
	UUID string `json:"uuid"`
	Used uint64 `json:"used_bytes"`
	// PSS is the proportional set size (host backend only, from
	// /proc/PID/smaps_rollup; Used is then the RSS). 0 when unknown.
	PSS uint64 `json:"pss_bytes,omitempty"`
	// Unknown: the driver would not say how much this process uses (NVML's
	// NOT_AVAILABLE, nvidia-smi's [N/A]: containers, MIG, permissions);
	// Used is then 0 and means nothing.
	Unknown bool `json:"unknown,omitempty"`
}

// Sample is one telemetry reading of one device. Fields a backend cannot read
// are negative (-1), never silently zero.
type Sample struct {
	Time        time.Time `json:"time"`
	Index       int       `json:"index"`
	UUID        string    `json:"uuid"`
	UtilPercent float64   `json:"util_percent"`
	MemUsed     uint64    `json:"mem_used_bytes"`
	PowerW      float64   `json:"power_w"`
	SMClockMHz  float64   `json:"sm_clock_mhz"`
}

// Backend reads device state.
type Backend interface {
	// Name is the spec name of the backend: "nvml", "nvidia-smi", "host", "sim".
	Name() string
	Devices(ctx context.Context) ([]Device, error)
	Memory(ctx context.Context) ([]DeviceMemory, error)
	// Processes returns per-process memory for the given PIDs; nil pids means
	// every process the backend can see.
	Processes(ctx context.Context, pids []int) ([]ProcessMemory, error)
	Telemetry(ctx context.Context) ([]Sample, error)
	Close() error
}
