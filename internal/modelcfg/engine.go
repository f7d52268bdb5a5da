package modelcfg

import (
	"fmt"
	"strconv"
	"strings"
)

// EngineProfile is what one range of vLLM releases does differently when it
// sizes the KV pool. The boundaries are the pull requests that changed the
// accounting (/work/shared/research/vllm-memory-accounting.md §0, §2, §3.3,
// §5); release numbers after a PR are inferred from merge dates unless the
// engine's own log names them (v0.21.0).
type EngineProfile struct {
	// Name is the first release of the range, as --vllm-version takes it ("0.21").
	Name string `json:"name"`
	// Changed says what changed at the start of the range, and in which PR.
	Changed string `json:"changed"`
	// DefaultGPUMemoryUtilization is the engine's --gpu-memory-utilization default.
	DefaultGPUMemoryUtilization float64 `json:"default_gpu_memory_utilization"`
	// CUDAGraphInBudget: the CUDA-graph estimate is subtracted before the pool
	// is sized (v0.21+); before, graphs are captured after the KV allocation.
	CUDAGraphInBudget bool `json:"cuda_graph_in_budget"`
	// ChargesCUDAContext: the budget subtracts whole-GPU used memory, so the
	// CUDA context counts too (V0 v0.6.4, V1 v0.7.0–v0.9.0).
	ChargesCUDAContext bool `json:"charges_cuda_context"`
	// ProfilesMaxModelLen: the V0 engine's profile run covers
	// max(max_model_len, max_num_batched_tokens) tokens unless chunked
	// prefill is on (by default only above 32k tokens), so the activation
	// peak grows with --max-model-len.
	ProfilesMaxModelLen bool `json:"profiles_max_model_len"`
	// SamplerBytesPerLogit is the dummy sampler pass's torch peak per
	// max_num_seqs × vocab logit (without the FlashInfer sampler).
	SamplerBytesPerLogit float64 `json:"sampler_bytes_per_logit"`
	// NonTorchBytes is the profiled non-torch increase on one GPU (cuBLAS
	// and attention workspaces).
	NonTorchBytes int64 `json:"non_torch_bytes"`
	// ChargesInitCommBuffers: the baseline snapshot is taken before the
	// NCCL and custom all-reduce groups are created, so their buffers
	// (CustomAllReduceInitBytes per rank with custom all-reduce) shrink the
	// pool at TP > 1 (every engine before v0.11, vllm#25359).
	ChargesInitCommBuffers bool `json:"charges_init_comm_buffers"`
	// FusesAllReduceRMSNorm: the FlashInfer all-reduce + RMSNorm fusion is
	// on by default (#34299, merged 2026-02-11, ≈v0.17), so where it can run
	// (PredictInput.AllReduceFusion) its workspace, created during the
	// profile run, adds AllReduceFusionBytes of non-torch memory per rank.
	FusesAllReduceRMSNorm bool `json:"fuses_all_reduce_rms_norm"`
	// BnBDequantizesStatistics: bitsandbytes double-quantized statistics
	// are expanded to one fp32 absmax per 64 weights at load (#19742), so
	// they take 4/64 bytes per weight instead of about 1/64.
	BnBDequantizesStatistics bool `json:"bnb_dequantizes_statistics"`
}

// engineProfiles, newest first. Profile picks the first whose Name is ≤ the
// requested version.
var engineProfiles = []EngineProfile{
	{Name: "0.21", BnBDequantizesStatistics: true, DefaultGPUMemoryUtilization: 0.92, CUDAGraphInBudget: true, FusesAllReduceRMSNorm: true,
		SamplerBytesPerLogit: SamplerBytesPerLogitV017, NonTorchBytes: NonTorchBytesV018,
		Changed: "#38284 (v0.21.0): the CUDA-graph memory estimate is subtracted before sizing the pool; default utilisation 0.90 → 0.92"},
	{Name: "0.18", BnBDequantizesStatistics: true, DefaultGPUMemoryUtilization: 0.90, FusesAllReduceRMSNorm: true,
		SamplerBytesPerLogit: SamplerBytesPerLogitV017, NonTorchBytes: NonTorchBytesV018,
		Changed: "v0.18.0: profiled non-torch memory on one GPU 0.13 → 0.25 GiB (llm-d-planner's release sweep; the PR is not identified)"},
	{Name: "0.17", BnBDequantizesStatistics: true, DefaultGPUMemoryUtilization: 0.90, FusesAllReduceRMSNorm: true,
		SamplerBytesPerLogit: SamplerBytesPerLogitV017, NonTorchBytes: NonTorchBytes,
		Changed: "v0.17.0: the profile run's activation peak drops about 60 % (Qwen3-14B on an H100: 5.64 → 2.23 GiB, llm-d-planner's release sweep): the dummy sampler pass peaks at 15.4 B per logit instead of 38.5 (the PR is not identified); #34299 (merged 2026-02-11, release inferred) turns the FlashInfer all-reduce + RMSNorm fusion on, whose workspace is charged at TP > 1 on Hopper/Blackwell NVLink GPUs"},
	{Name: "0.11", BnBDequantizesStatistics: true, DefaultGPUMemoryUtilization: 0.90,
		SamplerBytesPerLogit: SamplerBytesPerLogit, NonTorchBytes: NonTorchBytes,
		Changed: "#25359 (v0.11.0): baseline taken after NCCL/custom all-reduce init, so those buffers no longer shrink the pool at TP > 1"},
	{Name: "0.9.2", BnBDequantizesStatistics: true, DefaultGPUMemoryUtilization: 0.90, ChargesInitCommBuffers: true,
		SamplerBytesPerLogit: SamplerBytesPerLogit, NonTorchBytes: NonTorchBytes,
		Changed: "#19742 (merged 2025-06-18, ≈v0.9.2): bitsandbytes double-quantized statistics are dequantized to fp32 at load (4/64 bytes per weight instead of about 1/64)"},
	{Name: "0.9.1", DefaultGPUMemoryUtilization: 0.90, ChargesInitCommBuffers: true,
		SamplerBytesPerLogit: SamplerBytesPerLogit, NonTorchBytes: NonTorchBytes,
		Changed: "#18974/#19312 (≈v0.9.1): V1 budget = requested − (weights + activation + non-torch), CUDA context no longer charged; logs \"Available KV cache memory\""},
	{Name: "0.8", DefaultGPUMemoryUtilization: 0.90, ChargesCUDAContext: true, ChargesInitCommBuffers: true,
		SamplerBytesPerLogit: SamplerBytesPerLogit, NonTorchBytes: NonTorchBytes,
		Changed: "V1 engine by default (v0.8.0; opt-in since v0.7): activation profiled at max_num_batched_tokens, not max_model_len; budget charges whole-GPU used memory (CUDA context)"},
	{Name: "0.6.5", DefaultGPUMemoryUtilization: 0.90, ProfilesMaxModelLen: true, ChargesInitCommBuffers: true,
		SamplerBytesPerLogit: SamplerBytesPerLogit, NonTorchBytes: NonTorchBytes,
		Changed: "#10511 (v0.6.5): V0 budget = requested − (weights + activation + non-torch), baseline before distributed init; V0 stays the default engine through v0.7.x"},
	{Name: "0.5", DefaultGPUMemoryUtilization: 0.90, ChargesCUDAContext: true, ProfilesMaxModelLen: true, ChargesInitCommBuffers: true,
		SamplerBytesPerLogit: SamplerBytesPerLogit, NonTorchBytes: NonTorchBytes,
		Changed: "V0 engine (≤ v0.6.4): budget charges everything the process and the GPU added since init; activation profiled at max_model_len"},
}

// EngineProfiles returns the profiles, newest first.
func EngineProfiles() []EngineProfile { return append([]EngineProfile(nil), engineProfiles...) }

// Profile returns the profile of a vLLM version ("0.10.1", "v0.8.5.post1",
// "0.21"); "" or "latest" is the newest.
func Profile(version string) (EngineProfile, error) {
	v := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(version)), "v")
	if v == "" || v == "latest" {
		return engineProfiles[0], nil
	}
	want, err := parseVersion(v)
	if err != nil {
		return EngineProfile{}, fmt.Errorf("modelcfg: vllm version %q: %w", version, err)
	}
	for _, p := range engineProfiles {
		have, _ := parseVersion(p.Name)
		if compareVersion(want, have) >= 0 {
			return p, nil
		}
	}
	return engineProfiles[len(engineProfiles)-1], nil
}

// parseVersion reads up to three numeric components; suffixes such as
// ".post1", "rc1" or "+cu121" are ignored.
func parseVersion(v string) ([3]int, error) {
	var out [3]int
	parts := strings.Split(v, ".")
	n := 0
	for _, p := range parts {
		if n == 3 {
			break
		}
		digits := p
		if i := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = p[:i]
		}
		if digits == "" {
			if n == 0 {
				return out, fmt.Errorf("want a release number such as 0.11 or 0.8.5")
			}
			break
		}
		x, err := strconv.Atoi(digits)
		if err != nil {
			return out, err
		}
		out[n] = x
		n++
		if digits != p {
			break
		}
	}
	return out, nil
}

func compareVersion(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
