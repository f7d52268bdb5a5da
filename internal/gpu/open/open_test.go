package open

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/host"
)

func noSMI(t *testing.T) Options {
	return Options{SMIPath: filepath.Join(t.TempDir(), "nvidia-smi-missing")}
}

func TestHost(t *testing.T) {
	b, err := Open("HOST", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Name() != "host" {
		t.Errorf("name %q", b.Name())
	}
}

// This CI machine has neither libnvidia-ml nor nvidia-smi; on a GPU machine
// auto must succeed instead.
func TestAutoAndFallback(t *testing.T) {
	opt := noSMI(t)
	b, err := Open("auto", opt)
	if err == nil {
		t.Logf("auto opened %s (GPU machine)", b.Name())
		b.Close()
		return
	}
	if !errors.Is(err, gpu.ErrUnavailable) || !strings.Contains(err.Error(), "nvml: NVML unavailable") ||
		!strings.Contains(err.Error(), "nvidia-smi: nvidia-smi not found") || !strings.Contains(err.Error(), "gpu: host") {
		t.Errorf("auto error: %v", err)
	}
	if _, err := Open("nvidia-smi", opt); !errors.Is(err, gpu.ErrUnavailable) {
		t.Errorf("nvidia-smi: %v", err)
	}
	opt.Fallback = "host"
	for _, name := range []string{"", "auto", "nvml", "smi"} {
		b, err := Open(name, opt)
		if err != nil {
			t.Fatalf("%q with fallback: %v", name, err)
		}
		if b.Name() != "host" {
			t.Errorf("%q fell back to %s", name, b.Name())
		}
		b.Close()
	}
	opt.Fallback = "nvml"
	if _, err := Open("nvidia-smi", opt); err == nil || !strings.Contains(err.Error(), "fallback nvml") {
		t.Errorf("failed fallback: %v", err)
	}
}

func TestUnknownAndRegister(t *testing.T) {
	if _, err := Open("tpu", Options{}); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Errorf("unknown: %v", err)
	}
	sim, err := Open("sim", Options{SimGPU: "H100-80GB", SimStateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("sim: %v", err)
	}
	if devs, err := sim.Devices(context.Background()); err != nil || len(devs) != 1 || sim.Name() != "sim" {
		t.Errorf("sim devices %+v %v (name %s)", devs, err, sim.Name())
	}
	sim.Close()
	Register("fixture", func(ctx context.Context, opt Options) (gpu.Backend, error) {
		return host.New(host.Options{ProcRoot: opt.ProcRoot})
	})
	b, err := Open("fixture", Options{ProcRoot: "../host/testdata/proc"})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := b.Memory(context.Background())
	if m[0].Total != 16384000*1024 {
		t.Errorf("registered backend: %+v", m)
	}
	names := strings.Join(Names(), ",")
	for _, n := range []string{"auto", "fixture", "host", "nvidia-smi", "nvml", "sim"} {
		if !strings.Contains(names, n) {
			t.Errorf("Names() = %s lacks %s", names, n)
		}
	}
}
