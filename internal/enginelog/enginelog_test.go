package enginelog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func extract(t *testing.T, preset, file string) Result {
	t.Helper()
	rules, ok := Preset(preset)
	if !ok {
		t.Fatalf("no preset %q", preset)
	}
	res, err := Extract(load(t, file), rules)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func check(t *testing.T, file string, got Result, want map[string]float64, absent ...string) {
	t.Helper()
	for k, v := range want {
		g, ok := got.Values[k]
		if !ok {
			t.Errorf("%s: %s missing (have %v)", file, k, got.Keys())
		} else if d := g - v; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: %s = %v, want %v", file, k, g, v)
		}
	}
	for _, k := range absent {
		if _, ok := got.Values[k]; ok {
			t.Errorf("%s: %s present (%v), want absent", file, k, got.Values[k])
		}
	}
}

func TestVLLMVersions(t *testing.T) {
	for file, want := range map[string]map[string]float64{
		// v0.8.x V1: no "Available KV cache memory" line (PR #17122).
		"vllm-v0.8.4-v1.log": {"kv_cache_tokens": 166016, "max_concurrency": 40.53, "max_concurrency_len": 4096,
			"model_load_gib": 7.1184, "model_load_seconds": 3.104521, "cuda_graph_gib": 0.54, "graph_capture_seconds": 18,
			"init_engine_seconds": 38.91, "torch_compile_seconds": 16.02, "max_num_batched_tokens": 8192},
		"vllm-v0.11.0.log": {"kv_cache_memory_gib": 62.41, "kv_cache_tokens": 170432, "max_concurrency": 82.58,
			"max_concurrency_len": 2048, "model_load_gib": 7.1184, "cuda_graph_gib": 0.49, "init_engine_seconds": 32.06,
			"running_reqs": 3, "waiting_reqs": 0, "kv_cache_usage_pct": 1.9, "prefix_cache_hit_pct": 0},
		"vllm-v0.21-cudagraph-estimate.log": {"kv_cache_memory_gib": 63.86, "kv_cache_tokens": 174368,
			"max_concurrency": 167.66, "max_concurrency_len": 1024, "model_load_gib": 7.12, "model_load_seconds": 2.95381,
			"cuda_graph_estimate_gib": 0.56, "gpu_memory_utilization": 0.92, "effective_gpu_memory_utilization": 0.9129,
			"free_memory_gib": 78.57, "total_memory_gib": 79.18, "init_engine_seconds": 113.22, "compile_seconds": 30.34,
			"torch_compile_seconds": 14.88, "cuda_graph_gib": 0.52},
		// ~v0.27+: tokens and concurrency on one line.
		"vllm-v0.28-oneline.log": {"kv_cache_memory_gib": 56.33, "kv_cache_tokens": 461440, "max_concurrency": 3.52,
			"max_concurrency_len": 131072, "model_load_gib": 14.99, "cuda_graph_estimate_gib": 0.61, "init_engine_seconds": 44.8},
		"vllm-v0-profile.log": {"kv_cache_memory_gib": 11.12, "num_gpu_blocks": 5691, "max_concurrency": 11.12,
			"max_concurrency_len": 8192, "total_gpu_memory_gib": 39.5, "gpu_memory_utilization": 0.9,
			"non_torch_gib": 0.1, "activation_peak_gib": 9.37},
		"vllm-v0.15-kv-too-small.log": {"kv_cache_memory_gib": 3.82, "model_load_gib": 14.9889},
		"vllm-v0.7-kv-too-small.log":  {"model_load_gib": 14.9595},
		"vllm-no-cache-memory.log":    {"kv_cache_memory_gib": -1.44},
	} {
		check(t, file, extract(t, "vllm", file), want)
	}
	res := extract(t, "vllm", "vllm-v0.11.0.log")
	if res.Text["vllm_version"] != "0.11.0" || res.Text["kv_cache_tokens"] != "170,432" {
		t.Errorf("text: %v", res.Text)
	}
	if _, ok := res.Values["vllm_version"]; ok {
		t.Error("version parsed as a number")
	}
	check(t, "v0.8.4", extract(t, "vllm", "vllm-v0.8.4-v1.log"), nil, "kv_cache_memory_gib", "cuda_graph_estimate_gib")
}

func TestOllama(t *testing.T) {
	res := extract(t, "ollama", "ollama-v0.17.4-cuda.log")
	check(t, "ollama", res, map[string]float64{
		"kv_buffer_mib": 1536, "kv_buffer_mib_cuda0": 1536, "kv_size_mib": 1536, "kv_cells": 4096, "kv_layers": 32, "kv_seqs": 1,
		"compute_buffer_mib_cuda0": 68.62, "compute_buffer_mib_cuda_host": 16.01, "model_buffer_mib_cuda0": 7100.64,
		"model_buffer_mib_cpu_mapped": 187.88, "offloaded_layers": 33, "total_layers": 33,
		"n_ctx": 4096, "n_ctx_per_seq": 4096, "n_seq_max": 1,
		"kv_cache_mib": 1536, "kv_cache_mib_cuda0": 1536, "weights_mib_cuda0": 6.9 * 1024, "weights_mib_cpu": 187.9,
		"compute_graph_mib": 288, "total_memory_mib": 8.9 * 1024, "runner_start_seconds": 1.86,
	})
	if res.Text["device"] == "" {
		t.Error("device text missing")
	}
	old := extract(t, "llamacpp", "llamacpp-old.log")
	check(t, "llamacpp-old", old, map[string]float64{"kv_buffer_mib": 768, "kv_size_mib": 768, "n_ctx": 2048,
		"compute_buffer_mib_cuda0": 164, "offloaded_layers": 33})
}

// Ollama vendors llama.cpp, so its runner logs carry whichever llama.cpp log
// format it shipped, and the "llamacpp" preset is the same rule set. Both
// read the older formats too:
//
//   - the KV summary line before the seq total was added (mid-2025,
//     llama_kv_cache_unified constructor): "( 1 seqs)" with no "/total";
//   - the older loader line of llm_load_tensors, "CUDA0 buffer size =
//     7100.64 MiB", with no "model" word (as in testdata/llamacpp-old.log).
func TestOllamaReadsOlderLlamaCppLogFormats(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       map[string]float64
	}{
		{"b5600 no seq total", "llama_kv_cache_unified: size =  256.00 MiB (  2048 cells,  32 layers,  1 seqs), K (f16):  128.00 MiB, V (f16):  128.00 MiB\n",
			map[string]float64{"kv_size_mib": 256, "kv_cells": 2048, "kv_layers": 32}},
		{"old loader buffer line", "llm_load_tensors:      CUDA0 buffer size =  7100.64 MiB\n",
			map[string]float64{"model_buffer_mib": 7100.64}},
	} {
		res, err := Extract(tc.line, Ollama)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.want {
			if got, ok := res.Values[k]; !ok || got != v {
				t.Errorf("%s: %s = %v (present %v), want %v\n  line: %s", tc.name, k, got, ok, v, tc.line)
			}
		}
	}
}

func TestFailureReason(t *testing.T) {
	for file, want := range map[string][]string{
		"vllm-v0.15-kv-too-small.log": {"KV cache too small: max_model_len 131072 needs 16.00 GiB", "only 3.82 GiB is available", "max_model_len 31248 would fit"},
		"vllm-v0.7-kv-too-small.log":  {"max_model_len 131072 needs 16.00 GiB", "only 5.31 GiB"},
		"vllm-no-cache-memory.log":    {"no GPU memory left for the KV cache"},
		"vllm-gpu-busy.log":           {"only 40.12 of 79.18 GiB free", "0.92 × total = 72.85 GiB"},
		"vllm-cuda-oom.log":           {"CUDA out of memory (tried to allocate 3.50 GiB; 3.33 GiB free of 79.18 GiB)"},
		"vllm-other-failure.log":      {"RuntimeError: Cannot find any model weights with `/models/missing`"},
	} {
		got := FailureReason(load(t, file))
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: reason %q lacks %q", file, got, w)
			}
		}
	}
	for _, ok := range []string{"vllm-v0.11.0.log", "vllm-v0.28-oneline.log", "ollama-v0.17.4-cuda.log"} {
		if got := FailureReason(load(t, ok)); got != "" {
			t.Errorf("%s: healthy log gave %q", ok, got)
		}
	}
	for text, want := range map[string]string{
		"ValueError: The model's max seq len (8192) is larger than the maximum number of tokens that can be stored in KV cache (4096). Try…":                                        "exceeds the 4096 tokens",
		"ValueError: User-specified max_model_len (8192) is greater than the derived max_model_len (max_position_embeddings=4096 or model_max_length=None in model's config.json).": "max_model_len 8192 exceeds the model's maximum (max_position_embeddings=4096",
		`Error: 500 Internal Server Error: model requires more system memory (9.2 GiB) than is available (7.0 GiB)`:                                                                 "model needs 9.2 GiB, 7.0 GiB available",
		"RuntimeError: CUDA error: out of memory":          "CUDA out of memory",
		"EngineCore failed to start.\n(no exception here)": "engine core failed to start",
	} {
		if got := FailureReason(text); !strings.Contains(got, want) {
			t.Errorf("FailureReason(%.40q) = %q, want %q", text, got, want)
		}
	}
	long := "EngineCore failed to start.\nValueError: " + strings.Repeat("é", 400)
	if got := FailureReason(long); len([]rune(got)) != 300 || !strings.HasSuffix(got, "…") {
		t.Errorf("long reason not truncated: %d runes", len([]rune(got)))
	}
}

func TestGenericRules(t *testing.T) {
	text := "step 1 took 1,500 ms\nmem 2 GiB\nstep 2 took 2.5 s\nmem 512 MiB\nname=alpha\n"
	res, err := Extract(text, []Rule{
		{Pattern: `took (?P<step_seconds>[\d,.]+) (?P<step_seconds_unit>ms|s)\b`, Units: map[string]string{"step_seconds": "s"}},
		{Pattern: `mem (?P<mem_mib>[\d.]+) (?P<mem_mib_unit>\w+)`, Units: map[string]string{"mem_mib": "MiB"}},
		{Pattern: `(?m)^name=(?P<name>\w+)$`},
		{Pattern: `step (?P<step>\d+)`},
	})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "generic", res, map[string]float64{"step_seconds": 2.5, "mem_mib": 512, "step": 2}, "name", "step_seconds_unit")
	if res.Text["name"] != "alpha" || res.Text["step_seconds"] != "2.5" {
		t.Errorf("text %v", res.Text)
	}
	// Latest match wins across rules too.
	res, _ = Extract("A=1\nB=2\nA=3\n", []Rule{{Pattern: `B=(?P<v>\d)`}, {Pattern: `A=(?P<v>\d)`}})
	if res.Values["v"] != 3 {
		t.Errorf("latest across rules: %v", res.Values)
	}
	res, _ = Extract("A=3\nB=2\n", []Rule{{Pattern: `B=(?P<v>\d)`}, {Pattern: `A=(?P<v>\d)`}})
	if res.Values["v"] != 2 {
		t.Errorf("latest across rules (2): %v", res.Values)
	}
	// A unit that cannot convert leaves the value as text only.
	res, _ = Extract("t 5 GiB", []Rule{{Pattern: `t (?P<x>\d) (?P<x_unit>\w+)`, Units: map[string]string{"x": "s"}}})
	if _, ok := res.Values["x"]; ok || res.Text["x"] != "5" {
		t.Errorf("bad conversion: %v %v", res.Values, res.Text)
	}
	for _, bad := range [][]Rule{
		{{Pattern: `(`}},
		{{Pattern: `no captures`}},
		{{Pattern: `(?P<a>\d)`, Units: map[string]string{"b": "s"}}},
		{{Pattern: `(?P<a>\d)`, Units: map[string]string{"a": "parsecs"}}},
		{{Pattern: `(?P<a>\d)`, SuffixFrom: "dev"}},
	} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestParseNumberAndUnits(t *testing.T) {
	for in, want := range map[string]float64{"1,844,583": 1844583, "-0.52": -0.52, "+3": 3, " 1_000.5 ": 1000.5, "0": 0, ".5": 0.5} {
		if got, err := ParseNumber(in); err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "abc", "1e9", "NaN", "Inf", "0x10", "1.2.3"} {
		if _, err := ParseNumber(bad); err == nil {
			t.Errorf("ParseNumber(%q) accepted", bad)
		}
	}
	for _, c := range []struct {
		v        float64
		from, to string
		want     float64
	}{{1.5, "GiB", "MiB", 1536}, {1, "GB", "B", 1e9}, {1500, "ms", "s", 1.5}, {2, "min", "s", 120}, {1024, "KiB", "MiB", 1}} {
		if got, err := ConvertUnit(c.v, c.from, c.to); err != nil || got != c.want {
			t.Errorf("ConvertUnit(%v %s → %s) = %v, %v", c.v, c.from, c.to, got, err)
		}
	}
	if _, err := ConvertUnit(1, "GiB", "s"); err == nil {
		t.Error("bytes → seconds accepted")
	}
	if names := PresetNames(); len(names) != 4 {
		t.Errorf("presets %v", names)
	}
	if _, ok := Preset("VLLM"); !ok {
		t.Error("case-insensitive preset lookup")
	}
	MustCompile(VLLM)
	MustCompile(Ollama)
}
