package steps

import (
	"slices"
	"syscall"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/spec"
)

// Signal is the name of a signal a launched server's process group is
// stopped with (launch's stop_signal).
type Signal string

// The stop signals.
const (
	SIGHUP  Signal = "SIGHUP"
	SIGINT  Signal = "SIGINT"
	SIGKILL Signal = "SIGKILL"
	SIGQUIT Signal = "SIGQUIT"
	SIGTERM Signal = "SIGTERM"
	SIGUSR1 Signal = "SIGUSR1"
	SIGUSR2 Signal = "SIGUSR2"
)

var signals = map[Signal]syscall.Signal{
	SIGHUP: syscall.SIGHUP, SIGINT: syscall.SIGINT, SIGKILL: syscall.SIGKILL, SIGQUIT: syscall.SIGQUIT,
	SIGTERM: syscall.SIGTERM, SIGUSR1: syscall.SIGUSR1, SIGUSR2: syscall.SIGUSR2,
}

// Values lists the signal names, sorted.
func (Signal) Values() []string {
	out := make([]string, 0, len(signals))
	for s := range signals {
		out = append(out, string(s))
	}
	slices.Sort(out)
	return out
}

// DirtyPolicy is what a release check that finds memory still held does
// to the run (release-check's on_dirty).
type DirtyPolicy string

// The dirty policies.
const (
	DirtyAbort    DirtyPolicy = "abort"    // start no further point on this GPU
	DirtyContinue DirtyPolicy = "continue" // record the verdict and go on
)

// Values lists the dirty policies.
func (DirtyPolicy) Values() []string { return []string{string(DirtyAbort), string(DirtyContinue)} }

// GPUBackend names a device backend (gpu and fallback of the steps that read
// devices). Its values come from the backends registered in
// internal/gpu, plus none, which measure accepts to read no device.
type GPUBackend string

// GPUNone is measure's "read no device".
const GPUNone GPUBackend = "none"

// Values lists the backend names: auto first, then every registered backend,
// then none.
func (GPUBackend) Values() []string { return append(gpu.Names(), string(GPUNone)) }

// Match accepts every spelling the backend registry does (any case, smi for
// nvidia-smi, empty for auto) and none.
func (GPUBackend) Match(s string) bool {
	if GPUBackend(s) == GPUNone {
		return true
	}
	_, ok := gpu.Canonical(s)
	return ok
}

var (
	_ spec.Enum        = Signal("")
	_ spec.Enum        = DirtyPolicy("")
	_ spec.EnumMatcher = GPUBackend("")
)
