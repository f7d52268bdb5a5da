package gpu

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Backend names a spec may write in `gpu:`. Auto tries NVML, then
// nvidia-smi.
const (
	Auto      = "auto"
	NVML      = "nvml"
	NVIDIASMI = "nvidia-smi"
	Host      = "host"
	Sim       = "sim"
)

// aliases are other spellings of a backend name (README: "GPU backends").
var aliases = map[string]string{"": Auto, "smi": NVIDIASMI, "nvidia_smi": NVIDIASMI}

var (
	namesMu sync.RWMutex
	// names is the vocabulary of backend names. Validation reads it without
	// opening anything; RegisterName extends it for backends added at run
	// time (internal/gpu/open.Register).
	names = map[string]bool{NVML: true, NVIDIASMI: true, Host: true, Sim: true}
)

// RegisterName adds a backend name to the vocabulary that Canonical and
// Names accept.
func RegisterName(name string) {
	namesMu.Lock()
	defer namesMu.Unlock()
	names[strings.ToLower(name)] = true
}

// Canonical returns the backend name that name selects (case and spaces
// ignored; smi and nvidia_smi mean nvidia-smi; "" means auto) and whether
// it is known.
func Canonical(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	if n == Auto {
		return n, true
	}
	namesMu.RLock()
	defer namesMu.RUnlock()
	return n, names[n]
}

// Names lists the accepted backend names: "auto" first, then the rest
// sorted.
func Names() []string {
	namesMu.RLock()
	defer namesMu.RUnlock()
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return append([]string{Auto}, out...)
}

// Request is what a spec's GPU block asks an Opener for.
type Request struct {
	// Backend is a name Canonical accepts.
	Backend string
	// Device selects GPUs by index or UUID ("" = all; comma-separated
	// lists allowed). Ignored by host and sim.
	Device string
	// Fallback is the backend to open when Backend is unavailable on this
	// machine (its error matches ErrUnavailable).
	Fallback string
	// SimGPU is the sim backend's GPU preset.
	SimGPU string
}

// Opener opens the backend a Request names. Packages that read devices
// (steps) receive one from the command line instead of importing every
// backend; internal/gpu/open provides runexp's.
type Opener interface {
	Open(ctx context.Context, r Request) (Backend, error)
}
