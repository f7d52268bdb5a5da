package steps

import (
	"regexp"
	"strings"

	"github.com/runexp/runexp/internal/enginelog"
	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/results"
)

// Producer is implemented by every built-in kind: it declares the values and
// tables the configured step records, so that `validate` can check the names
// artifacts refer to. lastLaunch is the id of the launch step before it at
// the point ("" if none): the server a step uses when it names none.
type Producer interface {
	Outputs(lastLaunch string) results.Outputs
}

var (
	_ Producer = (*Launch)(nil)
	_ Producer = (*WaitReady)(nil)
	_ Producer = (*Teardown)(nil)
	_ Producer = (*Load)(nil)
	_ Producer = (*Measure)(nil)
	_ Producer = (*ReleaseCheck)(nil)
	_ Producer = (*Telemetry)(nil)
	_ Producer = (*Exec)(nil)
	_ Producer = (*Sleep)(nil)
)

// Outputs declares the server's pid, and how it stopped (StopServer).
func (l *Launch) Outputs(string) results.Outputs {
	var o results.Outputs
	o.AddValues(l.ID+"_pid", l.ID+"_stop_s", l.ID+"_stop_graceful")
	return o
}

// Outputs declares the time to ready (named by the server, if one is probed) and
// the json_checks' record: names.
func (w *WaitReady) Outputs(lastLaunch string) results.Outputs {
	var o results.Outputs
	switch {
	case w.Server != "":
		o.AddValues(w.Server + "_ready_s")
	case w.URL != "":
		o.AddValues("ready_s")
	default:
		o.AddValues(lastLaunch + "_ready_s")
	}
	for _, c := range w.JSONChecks {
		if c.Record != "" {
			o.AddValues(c.Record)
		}
	}
	return o
}

// Outputs declares none of its own; how the server stopped is the launch's.
func (*Teardown) Outputs(string) results.Outputs { return results.Outputs{} }

// Outputs declares nothing.
func (*Sleep) Outputs(string) results.Outputs { return results.Outputs{} }

// loadModeValues are the per-mode values a load step records as <mode>_NAME.
var loadModeValues = []string{"s", "completed", "failed", "output_throughput", "request_throughput",
	"mean_ttft_ms", "p99_ttft_ms", "mean_e2el_ms", "max_concurrent_requests"}

// loadRepeatValues are the values a repeated mode (repeat: N) also records
// as <mode>_NAME: the mean of each over its repetitions and its 95 % CI.
var loadRepeatValues = []string{
	"output_throughput_mean", "output_throughput_ci95_low", "output_throughput_ci95_high",
	"request_throughput_mean", "request_throughput_ci95_low", "request_throughput_ci95_high",
	"mean_ttft_ms_mean", "mean_ttft_ms_ci95_low", "mean_ttft_ms_ci95_high",
	"mean_e2el_ms_mean", "mean_e2el_ms_ci95_low", "mean_e2el_ms_ci95_high",
	"duration_mean", "duration_ci95_low", "duration_ci95_high",
}

// loadRequestColumns are the columns of a load.requests row, before metadata.
var loadRequestColumns = []string{"mode", "index", "ttft_ms", "e2el_ms", "completion_tokens", "finish_reason", "error_class"}

// loadDatasetColumns are the columns a load.requests row adds with a
// dataset: the server's and the intended prompt tokens, and a multi_turn
// request's session and turn.
var loadDatasetColumns = []string{"prompt_tokens", "intended_prompt_tokens", "session", "turn"}

// Outputs declares per mode <mode>_s, <mode>_output_throughput, ...; the metadata
// names; the tables load.requests and load.summary.
func (l *Load) Outputs(string) results.Outputs {
	var o results.Outputs
	meta := results.SortedKeys(l.Metadata)
	o.AddValues(meta...)
	for _, m := range l.Modes {
		name := m.Name
		if name == "" {
			name = string(m.Kind)
		}
		if m.Kind == load.KindSearch {
			o.AddValues(searchValues...)
			continue
		}
		o.AddValues(results.Prefixed(name+"_", loadModeValues...)...)
		if l.Dataset != nil {
			o.AddValues(name + "_prompt_token_mismatches")
		}
		if l.Metrics != "" {
			o.AddValues(name + "_prefix_cache_hit_rate")
		}
		if m.Repeat > 1 {
			o.AddValues(name + "_n")
			o.AddValues(results.Prefixed(name+"_", loadRepeatValues...)...)
		}
	}
	o.AddTable("load.requests", loadRequestColumns...)
	if l.Dataset != nil {
		o.AddTable("load.requests", loadDatasetColumns...)
	}
	o.AddTable("load.requests", meta...)
	o.AddTable("load.summary", load.SummaryNames()...)
	o.AddTable("load.summary", meta...)
	return o
}

// Outputs declares device memory (gpu_ or host_ names, by backend), the log's
// captures, /metrics as metrics_*, JSON fields and the prediction, each
// behind the step's prefix.
func (m *Measure) Outputs(string) results.Outputs {
	var names []string
	if m.GPU != "none" {
		host := m.GPU == "host" || m.Fallback == "host"
		dev := m.GPU != "host" || (m.Fallback != "" && m.Fallback != "host")
		if dev {
			names = append(names, "gpu_backend", "gpu_uuid", "gpu_name", "gpu_total_mb", "gpu_mem_baseline_mb")
			if !m.Baseline {
				names = append(names, "gpu_mem_used_mb", "gpu_mem_delta_mb", "gpu_proc_mem_mb", "gpu_procs")
			}
		}
		if host {
			names = append(names, "host_backend", "host_total_mb", "host_mem_baseline_mb")
			if !m.Baseline {
				names = append(names, "host_mem_used_mb", "host_mem_delta_mb", "host_rss_mb", "host_pss_mb", "host_procs")
			}
		}
	}
	if !m.Baseline {
		if m.Log != "" {
			rules, _ := enginelog.Preset(m.Log)
			names = append(names, logRuleNames(rules)...)
		}
		for _, r := range m.LogRules {
			names = append(names, logRuleNames([]enginelog.Rule{{Pattern: r.Pattern, Units: r.Units}})...)
		}
		if m.Metrics != "" {
			names = append(names, "metrics_*")
		}
		for _, c := range m.JSON {
			record := c.Record
			if record == "" {
				record = strings.NewReplacer("[", "_", "]", "", ".", "_").Replace(c.Field)
			}
			names = append(names, record)
		}
		if m.Predict != nil {
			names = append(names, "predicted_kv_bytes_per_token", "predicted_kv_pool_gib", "predicted_kv_tokens",
				"predicted_max_concurrency", "predicted_weights_gib", "predicted_fits")
		}
	}
	var o results.Outputs
	o.AddValues(results.Prefixed(m.Prefix, names...)...)
	return o
}

// logRuleNames are the value names engine-log rules record: each named
// capture but units; a rule with SuffixFrom also records NAME_<suffix>, and
// the suffix capture itself.
func logRuleNames(rules []enginelog.Rule) []string {
	var out []string
	for _, r := range rules {
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			continue // Validate reports it
		}
		for _, name := range re.SubexpNames() {
			if name == "" || strings.HasSuffix(name, "_unit") || name == r.SuffixFrom {
				continue
			}
			out = append(out, name)
			if r.SuffixFrom != "" {
				out = append(out, name+"_*")
			}
		}
		if r.SuffixFrom != "" {
			out = append(out, r.SuffixFrom)
		}
	}
	return out
}

// Outputs declares how long the release took and the memory left.
func (*ReleaseCheck) Outputs(string) results.Outputs {
	var o results.Outputs
	o.AddValues("gpu_release_s", "gpu_mem_after_mb")
	return o
}

// telemetryValues are the whole point's summary; the per-mode ones are
// recorded as <mode>_NAME for the modes of the point's load steps.
var (
	telemetryValues     = []string{"gpu_util_mean", "gpu_util_max", "power_mean_w", "power_max_w", "gpu_mem_max_mb"}
	telemetryModeValues = []string{"gpu_util_mean", "gpu_util_max", "power_mean_w", "gpu_mem_max_mb"}
)

// Outputs declares the point's summary, per load mode <mode>_gpu_util_mean, ...,
// and the table telemetry.summary.
func (*Telemetry) Outputs(string) results.Outputs {
	var o results.Outputs
	o.AddValues("telemetry_samples", "telemetry_interval_ms")
	o.AddValues(telemetryValues...)
	o.AddValues(results.Prefixed("*_", telemetryModeValues...)...)
	o.AddTable("telemetry.summary", "mode", "samples")
	o.AddTable("telemetry.summary", telemetryValues...)
	o.AddTable("telemetry.summary", "seconds")
	return o
}

// Outputs declares the exit code as <id>_exit and the output under record:.
func (x *Exec) Outputs(string) results.Outputs {
	var o results.Outputs
	o.AddValues(x.ID + "_exit")
	if x.Record != "" {
		o.AddValues(x.Record)
	}
	return o
}
