package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/internal/gpu/smi"
)

// TestReview4GPUAliasesValidate: README ("GPU backends") says "`smi` and
// `nvidia_smi` are aliases of `nvidia-smi`", and open.Open accepts them
// (internal/gpu/open/open.go open1). But GPUSpec.validate (steps/gpu.go)
// compares the name exactly against open.Names(), which lists only the
// canonical names, so every step that reads a device rejects `gpu: smi`
// and `gpu: nvidia_smi` as "unknown backend" at validate time: the
// documented aliases can never be used in a spec. Correct: the aliases
// validate (and select the nvidia-smi backend).
func TestReview4GPUAliasesValidate(t *testing.T) {
	for _, name := range []GPUBackend{"smi", "nvidia_smi"} {
		gs := GPUSpec{GPU: name}
		m := newMeasure().(*Measure)
		m.GPUSpec = gs
		tm := newTelemetry().(*Telemetry)
		tm.GPUSpec = gs
		r := newReleaseCheck().(*ReleaseCheck)
		r.GPUSpec = gs
		for kind, st := range map[string]interface{ Validate() error }{"measure": m, "telemetry": tm, "release-check": r} {
			if err := st.Validate(); err != nil {
				t.Errorf("%s with gpu: %s (a documented alias of nvidia-smi): %v", kind, name, err)
			}
		}
	}
}

// review4SMI registers an nvidia-smi backend whose nvidia-smi is a fake:
// one H100 with 20 GiB used, and the launched server (pid from *pid)
// listed as a compute app whose used_memory nvidia-smi reports as [N/A]
// (what it prints in containers and for processes on MIG devices).
func review4SMI(t *testing.T, pid *int) GPUSpec {
	t.Helper()
	const uuid = "GPU-5a8e3c4b-1f2d-7e6a-9b0c-3d4e5f6a7b8c"
	name := "review4smi" + strings.ToLower(strings.NewReplacer("/", "", "_", "").Replace(t.Name()))
	run := func(ctx context.Context, args ...string) ([]byte, error) {
		switch {
		case strings.HasPrefix(args[0], "--query-gpu="):
			return []byte("0, " + uuid + ", NVIDIA H100 80GB HBM3, 81559, 20480, 60528, 551, 50, 300.5, 1980, 550.54.15\n"), nil
		case strings.HasPrefix(args[0], "--query-compute-apps="):
			return []byte(strconv.Itoa(*pid) + ", " + uuid + ", [N/A]\n"), nil
		}
		return nil, fmt.Errorf("unexpected args %v", args)
	}
	open.Register(name, func(ctx context.Context, _ open.Options) (gpu.Backend, error) {
		return smi.New(ctx, smi.Options{Run: run})
	})
	return GPUSpec{GPU: GPUBackend(name)}
}

// TestReview4ProcMemUnavailableNotZero: when the backend cannot read a
// process's GPU memory (NVML's NVML_VALUE_NOT_AVAILABLE, nvidia-smi's
// "[N/A]" — containers, MIG devices, insufficient permissions), both
// backends turn it into Used 0 (internal/gpu/nvml/nvml.go Processes,
// internal/gpu/smi/smi.go ParseApps) and the measure step
// (steps/measure.go, the gpu_proc_mem_mb branch) sums those zeros and
// records gpu_proc_mem_mb = 0 for a server tree that holds GPU memory, next
// to gpu_procs = 1. A wrong reading is recorded as a measurement. Correct:
// an unknown per-process reading is not recorded as 0 MiB — leave
// gpu_proc_mem_mb out (or report the problem), as the telemetry contract
// does for unreadable fields ("never silently zero").
func TestReview4ProcMemUnavailableNotZero(t *testing.T) {
	pid := 0
	gs := review4SMI(t, &pid)
	env := newTestEnv(t)
	s := launch(t, env, "server", freePort(t))
	pid = s.Proc.PID()
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	err := runWithTimeout(&Measure{GPUSpec: gs}, env, 10*time.Second)
	t.Logf("measure: err %v, values %v", err, env.Values().Keys())
	if n, ok := env.Value("gpu_procs"); !ok || n != 1 {
		t.Fatalf("gpu_procs %v %v: the fake did not list the server", n, ok)
	}
	if v, ok := env.Value("gpu_proc_mem_mb"); ok && v == 0.0 {
		t.Errorf("gpu_proc_mem_mb recorded as 0 although nvidia-smi reported the server's used_memory as [N/A] (unknown)")
	}
}

// TestReview4BaselinePerBackend: a measure step with baseline: true stores
// its reading under one shared key (steps/measure.go,
// env.SetShared(sharedBaseline, t.used)) whatever the backend, device or
// prefix. A point that takes two baselines — the GPU's (gpu_mem_baseline_mb)
// and the host's (host_mem_baseline_mb, e.g. to report a GPU engine's host
// memory too) — keeps only the last one, so gpu_mem_delta_mb is computed as
// GPU used minus *host* used, and release-check compares GPU memory with
// the host's baseline (steps/release.go). Likewise a host measure after a
// GPU baseline records host_mem_delta_mb against the GPU's baseline.
// Correct: a delta (and the release check) uses the baseline read by the
// same backend and device selection; here gpu_mem_delta_mb is 5 GiB − 1 GiB
// = 4096 MiB.
func TestReview4BaselinePerBackend(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, gib)
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "host"}, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	hostBase := mustValue(t, env, "host_mem_baseline_mb")
	f.setUsed(5 * gib)
	if err := (&Measure{GPUSpec: gs}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if d := mustValue(t, env, "gpu_mem_delta_mb"); d != 4096.0 {
		t.Errorf("gpu_mem_delta_mb %v, want 4096 (5 GiB used − 1 GiB GPU baseline); the host baseline (%v MiB) was used instead", d, hostBase)
	}
}
