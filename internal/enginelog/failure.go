package enginelog

import (
	"fmt"
	"regexp"
	"strings"
)

type failureRule struct {
	re     *regexp.Regexp
	reason func(m []string) string
}

// failureRules are tried in order; the first rule that matches anywhere in
// the log gives the reason, from its last match.
var failureRules = []failureRule{
	{ // vLLM V1, every version (models's / model's, GB / GiB, with or without the estimate)
		regexp.MustCompile(`To serve at least one request with the models?'s? max seq len \((\d+)\), \(([\d.]+) (GiB|GB) KV cache is needed, which is larger than the available KV cache memory \((-?[\d.]+) (?:GiB|GB)\)\.(?: Based on the available memory, the estimated maximum model length is (\d+)\.)?`),
		func(m []string) string {
			s := fmt.Sprintf("KV cache too small: max_model_len %s needs %s GiB of KV cache for one request but only %s GiB is available", m[1], m[2], m[4])
			if m[5] != "" {
				s += fmt.Sprintf(" (vLLM estimates max_model_len %s would fit)", m[5])
			}
			return s + "; raise gpu_memory_utilization or lower max_model_len"
		},
	},
	{ // V0
		regexp.MustCompile(`The model's max seq len \((\d+)\) is larger than the maximum number of tokens that can be stored in KV cache \((\d+)\)`),
		func(m []string) string {
			return fmt.Sprintf("KV cache too small: max_model_len %s exceeds the %s tokens the KV cache holds; raise gpu_memory_utilization or lower max_model_len", m[1], m[2])
		},
	},
	{
		regexp.MustCompile(`No available memory for the cache blocks`),
		func([]string) string {
			return "no GPU memory left for the KV cache after weights and activations; raise gpu_memory_utilization or use a smaller model"
		},
	},
	{
		regexp.MustCompile(`Free memory on device \(([\d.]+)/([\d.]+) GiB\) on startup is less than desired GPU memory utilization \(([\d.]+), ([\d.]+) GiB\)`),
		func(m []string) string {
			return fmt.Sprintf("GPU not free: only %s of %s GiB free at startup, vLLM wanted %s × total = %s GiB; another process holds GPU memory", m[1], m[2], m[3], m[4])
		},
	},
	{
		regexp.MustCompile(`User-specified max_model_len \((\d+)\) is greater than the derived max_model_len \(([^)]*)\)`),
		func(m []string) string {
			return fmt.Sprintf("max_model_len %s exceeds the model's maximum (%s); set VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 to override", m[1], m[2])
		},
	},
	{ // torch: "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.11 GiB of which 1.23 GiB is free."
		regexp.MustCompile(`CUDA out of memory\. Tried to allocate ([\d.]+ [KMG]i?B)(?:.*?total capacity of ([\d.]+ [KMG]i?B) of which ([\d.]+ [KMG]i?B) is free)?`),
		func(m []string) string {
			s := "CUDA out of memory (tried to allocate " + m[1]
			if m[2] != "" {
				s += "; " + m[3] + " free of " + m[2]
			}
			return s + ")"
		},
	},
	{
		regexp.MustCompile(`(?i)CUDA error: out of memory|cudaMalloc failed: out of memory|CUBLAS_STATUS_ALLOC_FAILED|unable to allocate CUDA\d* buffer`),
		func(m []string) string { return "CUDA out of memory (" + m[0] + ")" },
	},
	{ // Ollama
		regexp.MustCompile(`model requires more system memory \(([^)]+)\) than is available \(([^)]+)\)`),
		func(m []string) string {
			return fmt.Sprintf("not enough host memory: model needs %s, %s available", m[1], m[2])
		},
	},
	{
		regexp.MustCompile(`requested context size too large for model`),
		func([]string) string {
			return "requested context size too large for model (num_ctx above the GGUF's context_length)"
		},
	},
}

var (
	pyError  = regexp.MustCompile(`(?m)^(?:\S.*?\s)?((?:ValueError|RuntimeError|AssertionError|TypeError|KeyError|OSError|NotImplementedError|torch\.OutOfMemoryError|ImportError|ModuleNotFoundError): .+)$`)
	engineUp = regexp.MustCompile(`EngineCore failed to start|Engine core initialization failed|Engine process failed to start`)
)

// FailureReason turns a failed start-up log into one short, readable line,
// or "" when it recognises no failure. It knows vLLM's KV-cache errors (every
// version's wording), out-of-memory errors, the busy-GPU check, the
// max_model_len check and a few Ollama errors; otherwise, when vLLM says its
// engine failed to start, it returns the last Python exception line.
func FailureReason(logText string) string {
	for _, r := range failureRules {
		all := r.re.FindAllStringSubmatch(logText, -1)
		if len(all) > 0 {
			return r.reason(all[len(all)-1])
		}
	}
	if engineUp.MatchString(logText) {
		errs := pyError.FindAllStringSubmatch(logText, -1)
		for i := len(errs) - 1; i >= 0; i-- {
			line := errs[i][1]
			if strings.Contains(line, "Engine core initialization failed") && i > 0 {
				continue // the wrapper; prefer the root cause above it
			}
			return truncate(line, 300)
		}
		return "engine core failed to start (no exception found in the log)"
	}
	return ""
}

func truncate(s string, max int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}
