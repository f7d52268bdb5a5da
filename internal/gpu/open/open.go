// Package open picks a gpu.Backend by the name written in a spec:
// "nvml", "nvidia-smi", "host", "sim" or "auto" (nvml, then nvidia-smi).
// It links every backend; the command line hands its Opener to the
// packages that read devices, which depend only on internal/gpu.
package open

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/host"
	"github.com/runexp/runexp/internal/gpu/nvml"
	"github.com/runexp/runexp/internal/gpu/smi"
)

// Options configure Open.
type Options struct {
	// Device selects GPUs by NVML/nvidia-smi index or UUID ("" = all;
	// comma-separated lists allowed). Ignored by host and sim.
	Device string
	// Fallback is the backend to open when Name's backend is unavailable on
	// this machine (its error matches gpu.ErrUnavailable), e.g. "host".
	// Other errors (a bad device selector) are returned as they are.
	Fallback string
	// SimGPU and SimStateDir configure the "sim" backend (a GPU preset name
	// and the simulator's shared state directory).
	SimGPU      string
	SimStateDir string
	// ProcRoot overrides /proc for the host backend (tests).
	ProcRoot string
	// SMIPath overrides the nvidia-smi binary ("" = from PATH).
	SMIPath string
}

// Factory constructs one named backend.
type Factory func(ctx context.Context, opt Options) (gpu.Backend, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{
		nvml.Name: func(_ context.Context, opt Options) (gpu.Backend, error) {
			b, err := nvml.New(nvml.Options{Device: opt.Device})
			if err != nil {
				return nil, err
			}
			return b, nil
		},
		smi.Name: func(ctx context.Context, opt Options) (gpu.Backend, error) {
			b, err := smi.New(ctx, smi.Options{Device: opt.Device, Path: opt.SMIPath})
			if err != nil {
				return nil, err
			}
			return b, nil
		},
		host.Name: func(_ context.Context, opt Options) (gpu.Backend, error) {
			b, err := host.New(host.Options{ProcRoot: opt.ProcRoot})
			if err != nil {
				return nil, err
			}
			return b, nil
		},
	}
)

// Register adds or replaces a named backend, and adds its name to the
// vocabulary that specs are validated against (gpu.RegisterName).
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	factories[strings.ToLower(name)] = f
	gpu.RegisterName(name)
}

// Names lists the backend names Open accepts.
func Names() []string { return gpu.Names() }

// Opener opens backends through this package's registry; it is the
// gpu.Opener the command line hands to the steps.
type Opener struct {
	// Options other than those a gpu.Request carries (tests).
	Options Options
}

var _ gpu.Opener = Opener{}

// Open opens the backend r names.
func (o Opener) Open(ctx context.Context, r gpu.Request) (gpu.Backend, error) {
	opt := o.Options
	opt.Device, opt.Fallback, opt.SimGPU = r.Device, r.Fallback, r.SimGPU
	return OpenContext(ctx, r.Backend, opt)
}

// Open opens the backend called name (case-insensitive; "" means "auto").
func Open(name string, opt Options) (gpu.Backend, error) {
	return OpenContext(context.Background(), name, opt)
}

// OpenContext is Open with a context for backends that probe a tool.
func OpenContext(ctx context.Context, name string, opt Options) (gpu.Backend, error) {
	b, err := open1(ctx, name, opt)
	if err == nil || opt.Fallback == "" || !errors.Is(err, gpu.ErrUnavailable) {
		return b, err
	}
	fb, ferr := open1(ctx, opt.Fallback, opt)
	if ferr != nil {
		return nil, fmt.Errorf("gpu %s: %v; fallback %s: %w", name, err, opt.Fallback, ferr)
	}
	return fb, nil
}

// Canonical returns the backend name that name selects (case and spaces
// ignored; smi and nvidia_smi mean nvidia-smi; "" means auto) and whether
// it is known.
func Canonical(name string) (string, bool) { return gpu.Canonical(name) }

func open1(ctx context.Context, name string, opt Options) (gpu.Backend, error) {
	n, _ := Canonical(name)
	if n == gpu.Auto {
		return openAuto(ctx, opt)
	}
	mu.RLock()
	f, ok := factories[n]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("gpu: unknown backend %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return f(ctx, opt)
}

// openAuto tries nvml, then nvidia-smi.
func openAuto(ctx context.Context, opt Options) (gpu.Backend, error) {
	var errs []string
	for _, n := range []string{nvml.Name, smi.Name} {
		b, err := open1(ctx, n, opt)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, gpu.ErrUnavailable) {
			return nil, err
		}
		errs = append(errs, fmt.Sprintf("%s: %v", n, err))
	}
	return nil, gpu.Unavailable("no GPU backend available (%s); for CPU-only engines use gpu: host, for the simulator gpu: sim",
		strings.Join(errs, "; "))
}
