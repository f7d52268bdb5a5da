package sim

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Histogram buckets of vLLM V1's PrometheusStatLogger.
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets  = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	e2eBuckets  = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

func (h *histogram) observe(v float64) {
	h.count++
	h.sum += v
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
}

func (h histogram) clone() histogram {
	h.counts = slices.Clone(h.counts)
	return h
}

// engineMetrics are the engine's counters; guarded by engine.mu.
type engineMetrics struct {
	promptTokens, genTokens uint64
	success                 map[string]uint64 // by finished_reason
	ttft, itl, e2e          histogram
}

func newEngineMetrics() engineMetrics {
	return engineMetrics{
		success: map[string]uint64{"stop": 0, "length": 0, "abort": 0},
		ttft:    newHistogram(ttftBuckets),
		itl:     newHistogram(itlBuckets),
		e2e:     newHistogram(e2eBuckets),
	}
}

func (m engineMetrics) clone() engineMetrics {
	m.success = maps.Clone(m.success)
	m.ttft, m.itl, m.e2e = m.ttft.clone(), m.itl.clone(), m.e2e.clone()
	return m
}

// cacheInfo is what vllm:cache_config_info carries.
type cacheInfo struct {
	blockSize         int
	numGPUBlocks      int
	numBlocksOverride int // 0: none
	gpuMemUtil        float64
	cacheDType        string
	slidingWindow     int // 0: none
	kvTokens          int
	maxConcurrency    float64
	prefixCaching     bool
}

// pyFloat formats like Python's repr(float), as prometheus_client does.
func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// writeMetrics writes the Prometheus text exposition (format 0.0.4) with
// vLLM's metric names, in the shape prometheus_client gives them: counters
// carry _total in their HELP/TYPE name, values print as Python floats.
func writeMetrics(w io.Writer, model string, ci cacheInfo, s snapshot) error {
	var b strings.Builder
	lbl := fmt.Sprintf(`engine="0",model_name="%s"`, escapeLabel(model))
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	sample := func(name, labels string, v float64) {
		fmt.Fprintf(&b, "%s{%s} %s\n", name, labels, pyFloat(v))
	}

	family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.")
	sample("vllm:num_requests_running", lbl, float64(s.running))
	family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.")
	sample("vllm:num_requests_waiting", lbl, float64(s.waiting))
	family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.")
	sample("vllm:kv_cache_usage_perc", lbl, s.usage)

	family("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.")
	sample("vllm:num_preemptions_total", lbl, float64(s.preemptions))
	family("vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.")
	sample("vllm:prefix_cache_queries_total", lbl, float64(s.queries))
	family("vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.")
	sample("vllm:prefix_cache_hits_total", lbl, float64(s.hits))
	family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.")
	sample("vllm:prompt_tokens_total", lbl, float64(s.m.promptTokens))
	family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.")
	sample("vllm:generation_tokens_total", lbl, float64(s.m.genTokens))
	family("vllm:request_success_total", "counter", "Count of successfully processed requests.")
	for _, reason := range slices.Sorted(maps.Keys(s.m.success)) {
		sample("vllm:request_success_total", lbl+fmt.Sprintf(`,finished_reason="%s"`, reason), float64(s.m.success[reason]))
	}

	hist := func(name, help string, h histogram) {
		family(name, "histogram", help)
		var cum uint64
		for i, le := range h.bounds {
			cum += h.counts[i]
			sample(name+"_bucket", lbl+`,le="`+pyFloat(le)+`"`, float64(cum))
		}
		sample(name+"_bucket", lbl+`,le="+Inf"`, float64(h.count))
		sample(name+"_count", lbl, float64(h.count))
		sample(name+"_sum", lbl, h.sum)
	}
	hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", s.m.ttft)
	hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", s.m.itl)
	hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", s.m.e2e)

	override, window := "None", "None"
	if ci.numBlocksOverride > 0 {
		override = strconv.Itoa(ci.numBlocksOverride)
	}
	if ci.slidingWindow > 0 {
		window = strconv.Itoa(ci.slidingWindow)
	}
	labels := [][2]string{
		{"block_size", strconv.Itoa(ci.blockSize)},
		{"cache_dtype", ci.cacheDType},
		{"calculate_kv_scales", "False"},
		{"cpu_offload_gb", "0"},
		{"enable_prefix_caching", pyBool(ci.prefixCaching)},
		{"engine", "0"},
		{"gpu_memory_utilization", pyFloat(ci.gpuMemUtil)},
		{"is_attention_free", "False"},
		{"kv_cache_max_concurrency", strconv.FormatFloat(ci.maxConcurrency, 'f', 2, 64)},
		{"kv_cache_size_tokens", strconv.Itoa(ci.kvTokens)},
		{"num_cpu_blocks", "0"},
		{"num_gpu_blocks", strconv.Itoa(ci.numGPUBlocks)},
		{"num_gpu_blocks_override", override},
		{"sliding_window", window},
		{"swap_space", "4"},
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = fmt.Sprintf(`%s="%s"`, l[0], escapeLabel(l[1]))
	}
	family("vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig")
	sample("vllm:cache_config_info", strings.Join(parts, ","), 1)

	_, err := io.WriteString(w, b.String())
	return err
}
