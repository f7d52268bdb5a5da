package artifact

import (
	"strings"

	"github.com/runexp/runexp/spec"
)

// axisNames labels the columns runexp records, with their units, for chart
// axes; a chart's labels: (or x_label, y_label) overrides them.
var axisNames = map[string]string{
	"max_model_len":             "max-model-len (tokens)",
	"gpu_memory_utilization":    "GPU memory utilisation (fraction)",
	"concurrency":               "concurrency (requests)",
	"gpu_mem_used_mb":           "GPU memory used (MiB)",
	"gpu_mem_baseline_mb":       "GPU memory before launch (MiB)",
	"gpu_mem_delta_mb":          "GPU memory added by the server (MiB)",
	"gpu_proc_mem_mb":           "server processes' GPU memory (MiB)",
	"gpu_total_mb":              "GPU memory total (MiB)",
	"gpu_mem_max_mb":            "GPU memory used, peak (MiB)",
	"host_mem_used_mb":          "host memory used (MiB)",
	"host_rss_mb":               "server RSS (MiB)",
	"host_pss_mb":               "server PSS (MiB)",
	"kv_cache_tokens":           "KV cache capacity (tokens)",
	"predicted_kv_tokens":       "predicted KV cache capacity (tokens)",
	"max_concurrency":           "max concurrency (full-length requests)",
	"predicted_max_concurrency": "predicted max concurrency (full-length requests)",
	"kv_cache_memory_gib":       "KV cache memory (GiB)",
	"model_load_gib":            "model weights (GiB)",
	"output_throughput":         "output throughput (tokens/s)",
	"total_token_throughput":    "total throughput (tokens/s)",
	"request_throughput":        "request throughput (requests/s)",
	"duration":                  "duration (s)",
	"max_concurrent_requests":   "requests in flight, max",
	"median_e2el_ms":            "end-to-end latency, median (ms)",
	"p99_e2el_ms":               "end-to-end latency, p99 (ms)",
	"median_ttft_ms":            "time to first token, median (ms)",
	"p99_ttft_ms":               "time to first token, p99 (ms)",
	"e2el_ms":                   "end-to-end latency (ms)",
	"ttft_ms":                   "time to first token (ms)",
	"tpot_ms":                   "time per output token (ms)",
	"itl_ms":                    "inter-token latency (ms)",
	"gpu_util_mean":             "GPU utilisation, mean (%)",
	"gpu_util_max":              "GPU utilisation, max (%)",
	"power_mean_w":              "power, mean (W)",
	"power_max_w":               "power, max (W)",

	// A Pareto chart's x axis (load.summary).
	"output_throughput_per_user": "output throughput per user (tokens/s)",
}

// unitSuffixes give the unit of a column the table does not name, by the
// suffix runexp's names end with.
var unitSuffixes = []struct{ suffix, unit string }{
	{"_mb", "MiB"}, {"_gib", "GiB"}, {"_ms", "ms"}, {"_s", "s"}, {"_w", "W"},
	{"_percent", "%"}, {"_perc", "%"}, {"_throughput", "per s"}, {"_tokens", "tokens"},
}

// axisLabel is the label of column name on a chart of c: the chart's
// labels: entry, else the name table's, else the name with its unit.
func axisLabel(c *spec.Chart, name string) string {
	if l, ok := c.Labels[name]; ok {
		return l
	}
	return defaultLabel(name)
}

func defaultLabel(name string) string {
	if l, ok := axisNames[name]; ok {
		return l
	}
	for _, u := range unitSuffixes {
		if strings.HasSuffix(name, u.suffix) && len(name) > len(u.suffix) {
			return strings.TrimSuffix(name, u.suffix) + " (" + u.unit + ")"
		}
	}
	return name
}
