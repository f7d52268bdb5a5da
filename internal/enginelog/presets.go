package enginelog

import (
	"sort"
	"strings"
)

// n matches a number with optional sign, thousands separators and decimals.
const n = `[-+]?[\d,]*\.?\d+`

// VLLM is the "vllm" preset: the startup lines of vLLM's V1 engine from
// v0.8 to the 2026 builds, plus V0 fallbacks (kv-cache-facts.md §1.2).
// Values (GiB as vLLM prints them; vLLM's early "GB" was already GiB):
//
//	kv_cache_memory_gib        Available KV cache memory: X GiB (may be negative);
//	                           V0: "the rest of the memory reserved for KV Cache is X GiB"
//	kv_cache_tokens            GPU KV cache size: N tokens
//	max_concurrency            Maximum concurrency for L tokens per request: X.XXx
//	max_concurrency_len        … its L (two-line and one-line forms)
//	num_gpu_blocks             # GPU blocks: N (early V1, V0) / override line
//	model_load_gib             Model loading took X GiB|GB (also "Loading model weights took X GB")
//	model_load_seconds         … and Y seconds
//	cuda_graph_gib             Graph capturing finished in S secs, took X GiB
//	graph_capture_seconds      … its S
//	cuda_graph_estimate_gib    Estimated CUDA graph memory: X GiB (v0.21+)
//	gpu_memory_utilization, effective_gpu_memory_utilization (v0.21+ explanation line)
//	free_memory_gib, total_memory_gib   Free memory on device (F/T GiB) on startup
//	requested_memory_gib       … desired GPU memory utilization (U, R GiB)
//	total_gpu_memory_gib       V0: total_gpu_memory (X GiB) x gpu_memory_utilization (U)
//	non_torch_gib, activation_peak_gib  V0 memory profiling line
//	init_engine_seconds, compile_seconds, torch_compile_seconds
//	max_num_batched_tokens     Chunked prefill is enabled with max_num_batched_tokens=N
//	auto_fit_max_model_len     Auto-fit max_model_len: reduced from A to B
//	running_reqs, waiting_reqs, kv_cache_usage_pct, prefix_cache_hit_pct  (last periodic stats line)
//	vllm_version (Text only)   vLLM API server version X
var VLLM = []Rule{
	{Pattern: `Available KV cache memory: (?P<kv_cache_memory_gib>` + n + `) ?GiB`},
	{Pattern: `the rest of the memory reserved for KV Cache is (?P<kv_cache_memory_gib>` + n + `) ?GiB`},
	{Pattern: `GPU KV cache size: (?P<kv_cache_tokens>[\d,]+) tokens`},
	{Pattern: `Maximum concurrency for (?P<max_concurrency_len>[\d,]+) tokens per request: (?P<max_concurrency>` + n + `)x`},
	{Pattern: `# (?i:GPU|cuda) blocks: (?P<num_gpu_blocks>\d+)`},
	{Pattern: `Overriding num_gpu_blocks=\d+ with num_gpu_blocks_override=(?P<num_gpu_blocks>\d+)`},
	{Pattern: `Model loading took (?P<model_load_gib>` + n + `) ?(?:GiB|GB)(?: memory)?(?: and (?P<model_load_seconds>` + n + `) s(?:econds)?)?`},
	{Pattern: `Loading model weights took (?P<model_load_gib>` + n + `) ?(?:GiB|GB)`},
	{Pattern: `Graph capturing finished in (?P<graph_capture_seconds>` + n + `) secs?, took (?P<cuda_graph_gib>` + n + `) GiB`},
	{Pattern: `Estimated CUDA graph memory: (?P<cuda_graph_estimate_gib>` + n + `) GiB`},
	{Pattern: `The current --gpu-memory-utilization=(?P<gpu_memory_utilization>` + n + `) is equivalent to --gpu-memory-utilization=(?P<effective_gpu_memory_utilization>` + n + `) without`},
	{Pattern: `Free memory on device \((?P<free_memory_gib>` + n + `)/(?P<total_memory_gib>` + n + `) GiB\) on startup`},
	{Pattern: `desired GPU memory utilization \((?P<gpu_memory_utilization>` + n + `), (?P<requested_memory_gib>` + n + `) GiB\)`},
	{Pattern: `total_gpu_memory \((?P<total_gpu_memory_gib>` + n + `) ?GiB\) x gpu_memory_utilization \((?P<gpu_memory_utilization>` + n + `)\)`},
	{Pattern: `non_torch_memory takes (?P<non_torch_gib>` + n + `) ?GiB; PyTorch activation peak memory takes (?P<activation_peak_gib>` + n + `) ?GiB`},
	{Pattern: `init engine \(profile, create kv cache, warmup model\) took (?P<init_engine_seconds>` + n + `) (?:s|seconds)(?: \(compilation: (?P<compile_seconds>` + n + `) s\))?`},
	{Pattern: `torch\.compile (?:takes|took) (?P<torch_compile_seconds>` + n + `) s in total`},
	{Pattern: `Chunked prefill is enabled with max_num_batched_tokens=(?P<max_num_batched_tokens>\d+)`},
	{Pattern: `Auto-fit max_model_len: reduced from \d+ to (?P<auto_fit_max_model_len>\d+)`},
	{Pattern: `Auto-fit max_model_len: full model context length (?P<auto_fit_max_model_len>\d+) fits`},
	{Pattern: `Running: (?P<running_reqs>\d+) reqs, Waiting: (?P<waiting_reqs>\d+) reqs, GPU KV cache usage: (?P<kv_cache_usage_pct>` + n + `)%(?:, Prefix cache hit rate: (?P<prefix_cache_hit_pct>` + n + `)%)?`},
	{Pattern: `vLLM API server version (?P<vllm_version>[0-9][\w.+-]*)`},
}

// Ollama is the "ollama" preset: Ollama's own memory lines (v0.11+) and the
// llama.cpp runner's lines (kv-cache-facts.md §5.1, §5.4). Sizes are MiB;
// per-device values also get a device suffix (kv_cache_mib_cuda0).
//
//	kv_buffer_mib        llama_kv_cache[_unified|_init]: CUDA0 KV buffer size = X MiB
//	kv_size_mib, kv_cells, kv_layers, kv_seqs   llama_kv_cache: size = X MiB (N cells, L layers, S/… seqs)
//	                     (older: "KV self size = X MiB")
//	compute_buffer_mib   … CUDA0 compute buffer size = X MiB
//	model_buffer_mib     load_tensors: CUDA0 model buffer size = X MiB
//	offloaded_layers, total_layers   offloaded N/M layers to GPU
//	n_ctx, n_ctx_per_seq, n_seq_max  llama_context: n_ctx = N …
//	weights_mib, kv_cache_mib, compute_graph_mib, total_memory_mib   msg="model weights"|"kv cache"|"compute graph"|"total memory" size="X GiB"
//	runner_start_seconds llama runner started in X seconds
var Ollama = []Rule{
	{Pattern: `llama_kv_cache\w*:\s+(?P<device>\S+) KV buffer size =\s*(?P<kv_buffer_mib>` + n + `) (?P<kv_buffer_mib_unit>[KMG]i?B)`,
		Units: map[string]string{"kv_buffer_mib": "MiB"}, SuffixFrom: "device"},
	{Pattern: `llama_kv_cache\w*: size =\s*(?P<kv_size_mib>` + n + `) MiB \(\s*(?P<kv_cells>\d+) cells,\s*(?P<kv_layers>\d+) layers,\s*(?P<kv_seqs>\d+)(?:/\s*\d+)? seqs\)`}, // "1/1 seqs"; mid-2025 builds print "1 seqs"
	{Pattern: `KV self size\s*=\s*(?P<kv_size_mib>` + n + `) MiB`},
	{Pattern: `(?P<device>\S+) compute buffer size =\s*(?P<compute_buffer_mib>` + n + `) (?P<compute_buffer_mib_unit>[KMG]i?B)`,
		Units: map[string]string{"compute_buffer_mib": "MiB"}, SuffixFrom: "device"},
	{Pattern: `(?P<device>\S+) model buffer size =\s*(?P<model_buffer_mib>` + n + `) (?P<model_buffer_mib_unit>[KMG]i?B)`,
		Units: map[string]string{"model_buffer_mib": "MiB"}, SuffixFrom: "device"},
	// Older llama.cpp: "llm_load_tensors:      CUDA0 buffer size = 7100.64 MiB".
	{Pattern: `llm_load_tensors:\s+(?P<device>\S+) buffer size =\s*(?P<model_buffer_mib>` + n + `) (?P<model_buffer_mib_unit>[KMG]i?B)`,
		Units: map[string]string{"model_buffer_mib": "MiB"}, SuffixFrom: "device"},
	{Pattern: `offloaded (?P<offloaded_layers>\d+)/(?P<total_layers>\d+) layers to GPU`},
	{Pattern: `llama_(?:context|new_context_with_model): n_ctx\s*=\s*(?P<n_ctx>\d+)`},
	{Pattern: `n_ctx_per_seq\s*=\s*(?P<n_ctx_per_seq>\d+)`},
	{Pattern: `n_seq_max\s*=\s*(?P<n_seq_max>\d+)`},
	{Pattern: `msg="model weights" device=(?P<device>\S+) size="(?P<weights_mib>` + n + `) (?P<weights_mib_unit>[KMGT]?i?B)"`,
		Units: map[string]string{"weights_mib": "MiB"}, SuffixFrom: "device"},
	{Pattern: `msg="kv cache" device=(?P<device>\S+) size="(?P<kv_cache_mib>` + n + `) (?P<kv_cache_mib_unit>[KMGT]?i?B)"`,
		Units: map[string]string{"kv_cache_mib": "MiB"}, SuffixFrom: "device"},
	{Pattern: `msg="compute graph" device=(?P<device>\S+) size="(?P<compute_graph_mib>` + n + `) (?P<compute_graph_mib_unit>[KMGT]?i?B)"`,
		Units: map[string]string{"compute_graph_mib": "MiB"}, SuffixFrom: "device"},
	{Pattern: `msg="total memory" size="(?P<total_memory_mib>` + n + `) (?P<total_memory_mib_unit>[KMGT]?i?B)"`,
		Units: map[string]string{"total_memory_mib": "MiB"}},
	{Pattern: `llama runner started in (?P<runner_start_seconds>` + n + `) seconds`},
}

var presets = map[string][]Rule{"vllm": VLLM, "ollama": Ollama, "llamacpp": Ollama, "llama.cpp": Ollama}

// Preset returns a built-in rule set by name ("vllm", "ollama"; "llamacpp"
// is the ollama set), case-insensitively.
func Preset(name string) ([]Rule, bool) {
	r, ok := presets[strings.ToLower(strings.TrimSpace(name))]
	return r, ok
}

// PresetNames lists the preset names.
func PresetNames() []string {
	out := make([]string, 0, len(presets))
	for k := range presets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
