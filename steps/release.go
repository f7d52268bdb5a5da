package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/runexp/runexp/spec"
)

// ErrDirtyGPU marks a release check that failed with on_dirty: abort; the
// runner then starts no further point on that GPU.
var ErrDirtyGPU = errors.New("GPU memory not released")

// ReleaseCheck waits, after teardown, until device memory is back near the
// baseline read before launch. This is what `kill; sleep 5` gets wrong: vLLM's
// engine core is a separate process that may hold memory after the API
// server exits.
type ReleaseCheck struct {
	GPUSpec     `yaml:",inline"`
	ToleranceMB float64       `yaml:"tolerance_mb" json:"tolerance_mb" doc:"memory above the baseline still counted as released"`
	Within      spec.Duration `yaml:"within" json:"within" doc:"how long to wait for the memory to return"`
	Interval    spec.Duration `yaml:"interval" json:"interval" doc:"time between readings"`
	OnDirty     DirtyPolicy   `yaml:"on_dirty" json:"on_dirty" doc:"abort (start no further point on this GPU) or continue"`
}

func newReleaseCheck() Step {
	return &ReleaseCheck{GPUSpec: GPUSpec{GPU: "auto"}, ToleranceMB: 256, Within: spec.Duration(60 * time.Second),
		Interval: spec.Duration(100 * time.Millisecond), OnDirty: DirtyAbort}
}

// Validate reports every problem of the configuration, each at its key.
func (r *ReleaseCheck) Validate() error {
	var p spec.Problems
	r.GPUSpec.validate(&p, false)
	if !spec.InEnum(r.OnDirty, string(r.OnDirty)) {
		p.Add("on_dirty", "%s", spec.NotInEnum(string(r.OnDirty), r.OnDirty.Values()))
	}
	if r.Within <= 0 {
		p.Add("within", "must be positive")
	}
	if r.Interval <= 0 {
		p.Add("interval", "must be positive")
	}
	return p.Err()
}

// Run polls device memory until it is back within tolerance of the baseline.
// Unlike a teardown it ends at an interrupt (which is no verdict on the
// GPU): it only observes, and no further point will run on the GPU.
func (r *ReleaseCheck) Run(ctx context.Context, env *Env) error {
	b, err := env.GPUs.Open(ctx, r.GPUSpec)
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(r.Within.D())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		// The step's timeout ends first: stop polling a little before it, so
		// the outcome is a dirty GPU with its processes, not a bare timeout.
		deadline = d.Add(-min(time.Second, time.Until(d)/10))
	}
	var (
		last     deviceTotals
		baseline uint64
		limit    float64
		cut      bool // the step's timeout ended the check
	)
	for n := 0; ; n++ {
		t, err := readMemory(ctx, b)
		if err != nil {
			if n > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				cut = true // a slow reading ran into the step's timeout
				break
			}
			return err
		}
		if n == 0 {
			base, ok := env.Shared(baselineKey(b, t.uuids))
			if !ok {
				return fmt.Errorf("no %s baseline of these devices: add a measure step with baseline: true (same gpu and device) before the launch", b.Name())
			}
			baseline = base.(uint64)
			limit = float64(baseline) + r.ToleranceMB*(1<<20)
		}
		last = t
		if float64(t.used) <= limit {
			env.Set("gpu_release_s", round3(time.Since(start).Seconds()))
			env.Set("gpu_mem_after_mb", round1(mib(t.used)))
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		if err := sleepCtx(ctx, min(r.Interval.D(), max(time.Until(deadline), 0))); err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				cut = true
				break
			}
			return err
		}
	}
	cut = cut || r.Within.D() > time.Since(start)
	env.Set("gpu_mem_after_mb", round1(mib(last.used)))
	msg := fmt.Sprintf("%.0f MiB used vs baseline %.0f MiB after %s", mib(last.used), mib(baseline), time.Since(start).Round(time.Millisecond))
	if cut {
		msg += fmt.Sprintf(" (the step's timeout cut the check short of within: %s)", r.Within)
	}
	// Its own short deadline: the step's may be spent.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if procs, err := b.Processes(pctx, nil); err == nil && len(procs) > 0 {
		var list []string
		for _, p := range procs {
			used := fmt.Sprintf("%.0f MiB", mib(p.Used))
			if p.Unknown {
				used = "memory unknown"
			}
			list = append(list, fmt.Sprintf("%d (%s, %s)", p.PID, comm(p.PID), used))
		}
		msg += "; processes still on the GPU: " + strings.Join(list, ", ")
	}
	if r.OnDirty == DirtyAbort {
		return fmt.Errorf("%w: %s", ErrDirtyGPU, msg)
	}
	return fmt.Errorf("GPU memory not released: %s", msg)
}

func comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
