package enginelog

import "testing"

// Review 4: before the seq total was added (llama.cpp, mid-2025,
// src/llama-kv-cache-unified.cpp, llama_kv_cache_unified constructor) the KV
// summary line was
//
//	LLAMA_LOG_INFO("%s: size = %7.2f MiB (%6u cells, %3d layers, %2u seqs), K (%s): %7.2f MiB, V (%s): %7.2f MiB\n", …)
//
// i.e. "( 1 seqs)" with no "/total". Ollama vendors llama.cpp, so its runner
// logs carry whichever format it shipped, and the "llamacpp" preset is the
// same rule set. The size rule requires "(\d+)/\d+ seqs", so kv_size_mib,
// kv_cells and kv_layers are lost for these builds.
// Also the older loader line, llama.cpp llm_load_tensors:
// LLAMA_LOG_INFO("%s: %10s buffer size = %8.2f MiB\n", …) →
// "llm_load_tensors:      CUDA0 buffer size =  7100.64 MiB" (present in this
// package's own testdata/llamacpp-old.log) has no "model" word, so
// model_buffer_mib is never read from old llama.cpp/Ollama logs.
func TestReview4OllamaOlderLlamaCppFormats(t *testing.T) {
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
