package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/telemetry"
	"github.com/runexp/runexp/spec"
)

// Telemetry samples utilisation, memory and power in the background from
// this step until the point ends, and summarises the samples per load mode
// (a later load step marks where each mode starts and ends). It replaces
// watching `nvidia-smi dmon` by eye.
type Telemetry struct {
	GPUSpec  `yaml:",inline"`
	Interval spec.Duration `yaml:"interval" json:"interval" doc:"time between readings"`
	File     string        `yaml:"file" json:"file" doc:"the sampled series (JSON) in the point folder"`
}

func newTelemetry() Step {
	return &Telemetry{GPUSpec: GPUSpec{GPU: "auto"}, Interval: spec.Duration(telemetry.DefaultInterval), File: "telemetry.json"}
}

// Validate reports every problem of the configuration, each at its key.
func (t *Telemetry) Validate() error {
	var p spec.Problems
	t.GPUSpec.validate(&p, false)
	if t.Interval <= 0 {
		p.Add("interval", "must be positive")
	}
	if !spec.Confined(t.File) {
		p.Add("file", "%q must be a file name inside the point folder", t.File)
	}
	return p.Err()
}

// markSampleTimeout bounds the reading taken at a mode's start or end, so a
// hanging driver delays a load mode by at most this much.
const markSampleTimeout = 2 * time.Second

// measured maps a summary value with no reading behind it (-1) to NaN,
// which is recorded as no value: empty in CSVs, n/a in notes.
func measured(v float64) float64 {
	if v < 0 {
		return math.NaN()
	}
	return round1(v)
}

type modeWindow struct {
	name     string
	from, to time.Time
}

// Run starts the sampler and returns; the summary is recorded when the point ends.
func (t *Telemetry) Run(ctx context.Context, env *Env) error {
	b, err := env.GPUs.Open(ctx, t.GPUSpec)
	if err != nil {
		return err
	}
	s := telemetry.Start(context.WithoutCancel(ctx), b, t.Interval.D())
	var mu sync.Mutex
	var windows []modeWindow
	// A mode is sampled at its start and end as well as every interval, so
	// a mode shorter than the interval still has readings.
	sampleNow := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markSampleTimeout)
		defer cancel()
		s.SampleNow(ctx)
	}
	env.SetShared(sharedModeMarkers, func(mode string) {
		mu.Lock()
		open := len(windows) > 0 && windows[len(windows)-1].to.IsZero()
		mu.Unlock()
		if open {
			sampleNow()
			mu.Lock()
			windows[len(windows)-1].to = time.Now().Add(time.Nanosecond) // the end reading is inside
			mu.Unlock()
		}
		if mode != "" {
			mu.Lock()
			windows = append(windows, modeWindow{name: mode, from: time.Now()})
			mu.Unlock()
			sampleNow()
		}
	})
	env.Defer("telemetry", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		series := s.StopContext(ctx)
		mu.Lock()
		defer mu.Unlock()
		env.Set("telemetry_samples", len(series.Samples))
		env.Set("telemetry_interval_ms", t.Interval.D().Milliseconds())
		all := telemetry.Summarize(series, time.Time{}, time.Time{})
		env.Set("gpu_util_mean", measured(all.MeanUtil))
		env.Set("gpu_util_max", measured(all.MaxUtil))
		env.Set("power_mean_w", measured(all.MeanPowerW))
		env.Set("power_max_w", measured(all.MaxPowerW))
		env.Set("gpu_mem_max_mb", memMeasured(all))
		for _, w := range windows {
			sum := telemetry.Summarize(series, w.from, w.to)
			p := w.name + "_"
			env.Set(p+"gpu_util_mean", measured(sum.MeanUtil))
			env.Set(p+"gpu_util_max", measured(sum.MaxUtil))
			env.Set(p+"power_mean_w", measured(sum.MeanPowerW))
			env.Set(p+"gpu_mem_max_mb", memMeasured(sum))
			row := Values{}
			row.Set("mode", w.name)
			row.Set("samples", sum.Samples)
			row.Set("gpu_util_mean", measured(sum.MeanUtil))
			row.Set("gpu_util_max", measured(sum.MaxUtil))
			row.Set("power_mean_w", measured(sum.MeanPowerW))
			row.Set("power_max_w", measured(sum.MaxPowerW))
			row.Set("gpu_mem_max_mb", memMeasured(sum))
			row.Set("seconds", w.to.Sub(w.from).Seconds())
			env.Append("telemetry.summary", row)
		}
		data, err := json.MarshalIndent(series, "", " ")
		if err != nil {
			return err
		}
		if err := writeInPoint(env, t.File, data); err != nil {
			return fmt.Errorf("telemetry: %w", err)
		}
		return nil
	})
	return nil
}

// memMeasured is the window's peak memory in MiB, or NaN (no value) when the
// window holds no reading.
func memMeasured(s telemetry.Summary) float64 {
	if s.Samples == 0 {
		return math.NaN()
	}
	return round1(mib(s.MaxMemUsed))
}
