package modelcfg

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// GiB is 2^30 bytes, the unit vLLM logs memory in.
const GiB = int64(1) << 30

const mib = int64(1) << 20

// vLLM defaults and the approximation constants of Predict.
const (
	DefaultGPUMemoryUtilization = 0.92 // vLLM ≥ v0.21 (0.90 before)
	DefaultBlockSize            = 16   // CacheConfig.DEFAULT_BLOCK_SIZE
	DefaultMLABlockSize         = 64   // FlashMLA

	// NonTorchBytes is vLLM's profiled non-torch increase (cuBLAS/NCCL
	// workspaces): 0.13 GiB in every single-GPU H100 log of the llm-d
	// benchmark's empirical study (config_explorer/empirical-vllm-memory-results.md).
	NonTorchBytes = 13 * GiB / 100
	// NonTorchBytesV018 replaces NonTorchBytes from v0.18.0: 0.25 GiB in
	// llm-d-planner's v0.18.0 and v0.19.0 H100 sweeps
	// (accuracy/accuracy_report.md, "Non-torch increased at v0.18.0").
	NonTorchBytesV018 = 25 * GiB / 100
	// SamplerBytesPerLogit is the bytes per (max_num_seqs × vocab) logit
	// that vLLM's dummy sampler pass peaks at up to v0.16: 38.5 B, fitted to
	// the llm-d benchmark's H100 logs (Llama-3.1-8B 4.76 GiB, Qwen3-0.6B
	// 5.56 GiB, gpt-oss-20b 7.38 GiB of "peak activation" at max_num_seqs
	// 1024).
	SamplerBytesPerLogit = 38.5
	// SamplerBytesPerLogitV017 replaces it from v0.17.0, whose activation
	// peak is about 60 % lower: 15.4 B, fitted to the fitted-set v0.17+
	// cases of testdata/vllm-logs.json (Qwen3-14B 2.23 GiB at v0.17.0,
	// Llama-3.1-8B 1.89 GiB and Qwen2.5-7B 2.21 GiB at v0.19.0, all at
	// max_num_seqs 1024 on an H100).
	SamplerBytesPerLogitV017 = 15.4
	// FlashInferSamplerBytesPerLogit replaces it when vLLM samples top-p/top-k
	// with FlashInfer (it logs "Using FlashInfer for top-p & top-k sampling"),
	// which needs no sort: 11 B, fitted on dennislee22/vLLM-benchmarking's
	// A100 Qwen2-7B log at utilisation 0.25 (0.40 GiB over 256 × 152,064 logits).
	FlashInferSamplerBytesPerLogit = 11
	// CUDAGraphBaseBytes + CUDAGraphBytesPerLayer × layers approximates the
	// v0.21+ "Estimated CUDA graph memory" (logs show 0.17–0.65 GiB for small
	// models); Phi-3-mini (32 layers) gets 0.5625 GiB.
	CUDAGraphBaseBytes     = 64 * mib
	CUDAGraphBytesPerLayer = 16 * mib
	// CUDAContextBytes is the per-process CUDA context and loaded kernels that
	// vLLM's budget does not see (about 0.5–0.7 GiB on H100/H200; Ollama's
	// measured fixed overhead was 716 MiB). Used only for ExpectedUsedBytes.
	CUDAContextBytes = 512 * mib
	// TPNonTorchBytes is the extra non-torch memory per rank at TP > 1
	// (lazily created NCCL buffers, all-reduce workspaces): 0.55 − 0.13 GiB
	// in the llm-d TP=2 H100 log (a fitted case of testdata/vllm-logs.json).
	// Engines before v0.11 also charge the buffers created at init
	// (CustomAllReduceInitBytes); the pre-v0.11 TP logs without custom
	// all-reduce (dennislee22 A100 TP=2, vllm#13061 RTX 4090 TP=2) show no
	// measurable extra.
	TPNonTorchBytes = 42 * GiB / 100
	// CustomAllReduceInitBytes is what engines before v0.11
	// (EngineProfile.ChargesInitCommBuffers) charge per rank for the NCCL
	// and custom all-reduce buffers created at init when custom all-reduce
	// is on (NVLink/NVSwitch GPUs in one node): vllm-project/vllm#10511's
	// sanity log shows non_torch_memory 1.79 GiB at TP=1 and 3.58 GiB at
	// TP=2 on an H100.
	CustomAllReduceInitBytes = 179 * GiB / 100
	// AllReduceFusionBytes is the extra non-torch memory per rank with the
	// FlashInfer all-reduce + RMSNorm fusion (EngineProfile.FusesAllReduceRMSNorm):
	// 1.44 GiB, the mean over the fitted-set v0.19 TP cases of
	// testdata/vllm-logs.json (logged non-torch 2.06–2.13 GiB at TP=2 and 4
	// against 0.25 + TPNonTorchBytes; their logs say "Enabled custom
	// fusions: allreduce_rms").
	AllReduceFusionBytes = 144 * GiB / 100
	// ChargedContextBytes is what engines that subtract whole-GPU used
	// memory (EngineProfile.ChargesCUDAContext) count for the CUDA context
	// and other non-torch memory beyond NonTorchBytes: vllm-project/vllm#10517's
	// v0.6.4 log (a fitted case) shows non_torch_memory=0.35GiB, 0.22 GiB
	// above NonTorchBytes.
	ChargedContextBytes = 22 * GiB / 100
)

// PredictInput are the vLLM launch settings that decide the KV pool.
// Zero values take vLLM's defaults.
type PredictInput struct {
	// TotalMemoryBytes is the GPU's CUDA-visible total as vLLM logs it in
	// "Free memory on device (F/T GiB)" (torch.cuda.mem_get_info, without
	// driver-reserved memory): H100-80GB 79.18 GiB, not nvidia-smi's 81559 MiB.
	TotalMemoryBytes int64 `json:"total_memory_bytes"`
	// GPUName is optional; a name containing "A100" selects vLLM's small-GPU
	// batch defaults as vLLM does.
	GPUName              string  `json:"gpu_name,omitempty"`
	GPUMemoryUtilization float64 `json:"gpu_memory_utilization"` // 0 → 0.92
	MaxModelLen          int     `json:"max_model_len"`          // 0 → max_position_embeddings
	BlockSize            int     `json:"block_size"`             // 0 → 16 (64 for MLA)
	// MaxNumBatchedTokens / MaxNumSeqs: 0 → vLLM serve's defaults: 8192 / 1024
	// when the GPU has ≥ 70 GiB and is not an A100, else 2048 / 256.
	MaxNumBatchedTokens int    `json:"max_num_batched_tokens"`
	MaxNumSeqs          int    `json:"max_num_seqs"`
	DType               string `json:"dtype,omitempty"`          // "" / auto → torch_dtype (float32 → bfloat16)
	KVCacheDType        string `json:"kv_cache_dtype,omitempty"` // "" / auto → model dtype; fp8 → 1 byte
	EnforceEager        bool   `json:"enforce_eager,omitempty"`
	// NoCUDAGraphEstimate models vLLM < v0.21 (or
	// VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0): graph memory is captured
	// after the KV pool and lands above the budget instead of inside it.
	NoCUDAGraphEstimate bool `json:"no_cuda_graph_estimate,omitempty"`
	// DisableSlidingWindow treats a sliding-window model as full attention.
	DisableSlidingWindow bool `json:"disable_sliding_window,omitempty"`
	// AllowLongMaxModelLen is VLLM_ALLOW_LONG_MAX_MODEL_LEN=1.
	AllowLongMaxModelLen bool `json:"allow_long_max_model_len,omitempty"`
	// KVCacheMemoryBytes is --kv-cache-memory-bytes: a fixed pool; the
	// utilisation and the profiling math are skipped.
	KVCacheMemoryBytes int64 `json:"kv_cache_memory_bytes,omitempty"`
	// NumGPUBlocksOverride is --num-gpu-blocks-override.
	NumGPUBlocksOverride int `json:"num_gpu_blocks_override,omitempty"`
	// FlashInferSampler: vLLM found FlashInfer and samples with it, so the
	// dummy sampler pass peaks at FlashInferSamplerBytesPerLogit.
	FlashInferSampler bool `json:"flashinfer_sampler,omitempty"`
	// TensorParallelSize is --tensor-parallel-size (0 → 1). Every byte
	// field of the Prediction is then one rank's; KVTokens and the
	// concurrency are the replica's, as vLLM logs them.
	TensorParallelSize int `json:"tensor_parallel_size,omitempty"`
	// Quantization is --quantization (awq, gptq, fp8, bitsandbytes and
	// vLLM's kernel aliases); "" takes the config's quantization_config.
	Quantization string `json:"quantization,omitempty"`
	// CustomAllReduce: vLLM's custom all-reduce is on (TP > 1 on GPUs with
	// NVLink/NVSwitch peer access in one node; vLLM logs "Custom allreduce
	// is disabled because …" otherwise). Engines before v0.11 then charge
	// CustomAllReduceInitBytes per rank.
	CustomAllReduce bool `json:"custom_all_reduce,omitempty"`
	// AllReduceFusion: vLLM's FlashInfer all-reduce + RMSNorm fusion can run
	// (TP > 1 in one node on Hopper or Blackwell NVLink GPUs: H100, H200,
	// H20, B200). Engines from ≈v0.17 turn it on and charge
	// AllReduceFusionBytes per rank.
	AllReduceFusion bool `json:"all_reduce_fusion,omitempty"`
	// VLLMVersion selects the EngineProfile ("" → the newest).
	VLLMVersion string `json:"vllm_version,omitempty"`
}

// Prediction is Predict's vLLM V1 memory accounting. Byte fields are bytes.
type Prediction struct {
	// Resolved inputs.
	GPUMemoryUtilization float64 `json:"gpu_memory_utilization"`
	MaxModelLen          int     `json:"max_model_len"`
	BlockSize            int     `json:"block_size"`
	MaxNumBatchedTokens  int     `json:"max_num_batched_tokens"`
	MaxNumSeqs           int     `json:"max_num_seqs"`
	DType                string  `json:"dtype"`
	KVCacheDType         string  `json:"kv_cache_dtype"`
	SlidingWindow        int     `json:"sliding_window,omitempty"` // 0 = full attention
	TensorParallelSize   int     `json:"tensor_parallel_size"`
	KVHeadsPerGPU        int     `json:"kv_heads_per_gpu"` // max(1, kv_heads / tp); 1 latent for MLA
	Quantization         string  `json:"quantization,omitempty"`
	Engine               string  `json:"engine"` // the EngineProfile's Name
	// vLLM's KV-cache groups (kv_cache_utils._get_kv_cache_groups_uniform_page_size):
	// layers of one kind (full, sliding) split into groups of GroupSize
	// layers, the last padded; one block holds BlockSize tokens of every
	// layer of a group. A model of one kind has one group of all layers.
	FullLayers    int `json:"full_layers"`
	SlidingLayers int `json:"sliding_layers,omitempty"`
	GroupSize     int `json:"group_size"`
	FullGroups    int `json:"full_groups"`
	SlidingGroups int `json:"sliding_groups,omitempty"`

	RequestedBytes      int64 `json:"requested_bytes"` // total × utilisation
	WeightsBytes        int64 `json:"weights_bytes"`
	ActivationPeakBytes int64 `json:"activation_peak_bytes"`
	NonTorchBytes       int64 `json:"non_torch_bytes"`
	// CUDAGraphBytes is the graph memory (0 with EnforceEager); it is inside
	// NonKVBytes unless CUDAGraphInBudget is false (vLLM < v0.21).
	CUDAGraphBytes    int64 `json:"cuda_graph_bytes"`
	CUDAGraphInBudget bool  `json:"cuda_graph_in_budget"`
	NonKVBytes        int64 `json:"non_kv_bytes"`
	// KVPoolBytes is vLLM's "Available KV cache memory" (may be negative).
	KVPoolBytes     int64 `json:"kv_pool_bytes"`
	KVBytesPerToken int64 `json:"kv_bytes_per_token"`
	BlockBytes      int64 `json:"block_bytes"` // one block of a group: BlockSize tokens × GroupSize layers
	NumBlocks       int64 `json:"num_blocks"`
	// KVTokens is "GPU KV cache size: N tokens" = NumBlocks / groups × BlockSize.
	KVTokens int64 `json:"kv_tokens"`
	// MaxConcurrency = KVTokens / MaxModelLen, rounded to 2 decimals.
	MaxConcurrency float64 `json:"max_concurrency"`
	// BlocksPerRequest is the worst case of one MaxModelLen request, summed
	// over groups: cdiv(L, block) per full group,
	// cdiv(min(window−1+max_num_batched_tokens, L), block)+1 per sliding
	// group. EngineConcurrency = NumBlocks / BlocksPerRequest
	// (2 decimals) is what vLLM logs as "Maximum concurrency"; it is below
	// MaxConcurrency for sliding-window models such as Phi-3-mini.
	BlocksPerRequest  int64   `json:"blocks_per_request"`
	EngineConcurrency float64 `json:"engine_concurrency"`
	RequestKVBytes    int64   `json:"request_kv_bytes"` // one request's KV, summed over the real layers (vLLM's fit check)
	// EstimatedMaxModelLen is the largest L whose request fits the pool.
	EstimatedMaxModelLen int `json:"estimated_max_model_len"`
	// ExpectedUsedBytes approximates what nvidia-smi shows for the engine:
	// RequestedBytes + CUDAContextBytes (+ CUDAGraphBytes when outside the budget).
	ExpectedUsedBytes int64 `json:"expected_used_bytes"`

	Fits bool `json:"fits"`
	// Failure is vLLM's startup error text when !Fits.
	Failure string `json:"failure,omitempty"`
	// Formula shows the arithmetic with this prediction's numbers.
	Formula string `json:"formula"`

	err error
}

// Err returns the startup failure (a *DoesNotFitError or ErrNoCacheMemory)
// when the prediction does not fit, else nil.
func (p Prediction) Err() error { return p.err }

// ErrDoesNotFit matches (errors.Is) every *DoesNotFitError.
var ErrDoesNotFit = errors.New("max_model_len does not fit in the available KV cache memory")

// ErrNoCacheMemory is vLLM's error when the KV budget is ≤ 0, word for word
// so that it reads as the engine's own message.
//
//lint:ignore ST1005 vLLM's message, quoted as the engine prints it
var ErrNoCacheMemory = errors.New("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.")

// ErrMaxModelLenTooLarge matches (errors.Is) the error Predict returns when
// MaxModelLen exceeds max_position_embeddings without AllowLongMaxModelLen.
var ErrMaxModelLenTooLarge = errors.New("max_model_len is greater than the derived max_model_len")

// DoesNotFitError is vLLM's ValueError from _check_enough_kv_cache_memory.
type DoesNotFitError struct {
	MaxModelLen          int
	NeededBytes          int64
	AvailableBytes       int64
	EstimatedMaxModelLen int
}

// Error is the exact text of recent vLLM builds (v0.15+, typo "models's"
// fixed); GiB values are printed with 2 decimals as vLLM does.
func (e *DoesNotFitError) Error() string {
	return DoesNotFitMessage(e.MaxModelLen, e.NeededBytes, e.AvailableBytes, e.EstimatedMaxModelLen)
}

// Is makes errors.Is(err, ErrDoesNotFit) true.
func (e *DoesNotFitError) Is(target error) bool { return target == ErrDoesNotFit }

// DoesNotFitMessage formats vLLM's startup error (kv-cache-facts.md §1.3).
// An estimatedMaxLen ≤ 0 omits the "Based on the available memory" sentence,
// as vLLM before v0.8.4 did.
func DoesNotFitMessage(maxModelLen int, neededBytes, availableBytes int64, estimatedMaxLen int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "To serve at least one request with the model's max seq len (%d), (%.2f GiB KV cache is needed, which is larger than the available KV cache memory (%.2f GiB).",
		maxModelLen, float64(neededBytes)/float64(GiB), float64(availableBytes)/float64(GiB))
	if estimatedMaxLen > 0 {
		fmt.Fprintf(&b, " Based on the available memory, the estimated maximum model length is %d.", estimatedMaxLen)
	}
	b.WriteString(" Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.")
	return b.String()
}

// MaxModelLenTooLargeMessage is vLLM's config-validation error (wording from
// vLLM's ModelConfig, recalled rather than quoted from the facts file).
func MaxModelLenTooLargeMessage(maxModelLen, maxPositionEmbeddings int) string {
	return fmt.Sprintf("User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1.",
		maxModelLen, maxPositionEmbeddings)
}

type maxLenError struct{ l, max int }

func (e *maxLenError) Error() string        { return MaxModelLenTooLargeMessage(e.l, e.max) }
func (e *maxLenError) Is(target error) bool { return target == ErrMaxModelLenTooLarge }

// CheckMaxModelLen returns an error matching ErrMaxModelLenTooLarge when
// maxModelLen exceeds cfg.MaxPositionEmbeddings (unknown limits pass).
func CheckMaxModelLen(cfg Config, maxModelLen int) error {
	if cfg.MaxPositionEmbeddings > 0 && maxModelLen > cfg.MaxPositionEmbeddings {
		return &maxLenError{maxModelLen, cfg.MaxPositionEmbeddings}
	}
	return nil
}

// BatchDefaults are vLLM serve's max_num_batched_tokens and max_num_seqs for
// a GPU (EngineArgs.get_batch_defaults): 8192 / 1024 on ≥ 70 GiB non-A100
// GPUs (H100, H200, MI300), else 2048 / 256.
func BatchDefaults(totalMemoryBytes int64, gpuName string) (maxNumBatchedTokens, maxNumSeqs int) {
	if totalMemoryBytes >= 70*GiB && !strings.Contains(strings.ToUpper(gpuName), "A100") {
		return 8192, 1024
	}
	return 2048, 256
}

// activationPeakBytes approximates the torch peak increase of vLLM's
// profile run as the larger of
//
//   - the forward pass over max_num_batched_tokens tokens: one layer's
//     transient tensors (residual and normed hidden, qkv, attention output,
//     gate_up and activated MLP: 2·hidden + qkv width + heads·head_dim +
//     3·intermediate elements per token, in the model dtype), and
//   - the dummy sampler pass: max_num_seqs × vocab × the engine's
//     SamplerBytesPerLogit (FlashInferSamplerBytesPerLogit with FlashInfer).
//
// The sampler term dominates with vLLM's H100 defaults; up to v0.16 it
// reproduces the logged peaks of Llama-3.1-8B (4.76 GiB), Qwen3-0.6B
// (5.56 GiB) and gpt-oss-20b (7.38 GiB) within 0.05 GiB.
func activationPeakBytes(cfg Config, maxNumBatchedTokens, maxNumSeqs, actBytes int, samplerBytesPerLogit float64, flashInferSampler bool) int64 {
	h := int64(cfg.HiddenSize)
	heads := int64(cfg.NumAttentionHeads)
	var qkv, attnOut int64
	if cfg.IsMLA() {
		qkv = heads*int64(cfg.QKNopeHeadDim+cfg.QKRopeHeadDim) + int64(cfg.KVLoraRank+cfg.QKRopeHeadDim) +
			heads*int64(cfg.QKNopeHeadDim+cfg.VHeadDim)
		attnOut = heads * int64(cfg.VHeadDim)
	} else {
		qkv = (heads + 2*int64(cfg.NumKeyValueHeads)) * int64(cfg.HeadDim)
		attnOut = heads * int64(cfg.HeadDim)
	}
	perToken := 2*h + qkv + attnOut + 3*int64(cfg.IntermediateSize)
	forward := int64(maxNumBatchedTokens) * perToken * int64(actBytes)
	sampler := int64(float64(maxNumSeqs) * float64(cfg.VocabSize) * samplerBytesPerLogit)
	if flashInferSampler {
		sampler = int64(maxNumSeqs) * int64(cfg.VocabSize) * FlashInferSamplerBytesPerLogit
	}
	return max(forward, sampler)
}

// CUDAGraphBytes is the approximation of vLLM's graph-capture memory:
// CUDAGraphBaseBytes + CUDAGraphBytesPerLayer × layers.
func CUDAGraphBytes(cfg Config) int64 {
	return CUDAGraphBaseBytes + CUDAGraphBytesPerLayer*int64(cfg.NumHiddenLayers)
}

func cdiv(a, b int64) int64 { return (a + b - 1) / b }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Predict models vLLM V1's KV-cache sizing (kv-cache-facts.md §1.1):
//
//	requested  = total × gpu_memory_utilization
//	non_kv     = weights + activation_peak + non_torch [+ cuda_graph, v0.21+ unless eager]
//	kv_pool    = requested − non_kv                  ("Available KV cache memory")
//	num_blocks = floor(kv_pool / (block_size × kv_bytes_per_token))
//	kv_tokens  = num_blocks × block_size            ("GPU KV cache size")
//	max_concurrency = kv_tokens / max_model_len
//
// weights = ParamCount × dtype bytes (exact); activation_peak, non_torch and
// cuda_graph are the documented approximations ActivationPeakBytes,
// NonTorchBytes and CUDAGraphBytes (vLLM measures them by profiling), fitted
// to public H100 logs per engine release (EngineProfile). Phi-3-mini on an
// H100 (79.18 GiB) at 0.92 gives 64.26 GiB, 175,456 tokens (kv-cache-facts.md
// estimates 165–175k with the pre-v0.17 sampler peak). None of
// the terms depends on max_model_len: L changes only the concurrency and
// whether one request fits. KVCacheMemoryBytes replaces the whole budget;
// NumGPUBlocksOverride replaces num_blocks. The null block vLLM keeps is not
// subtracted (the logged token count does not subtract it either).
//
// Predict returns an error only for unusable input (bad dtype, MaxModelLen
// above max_position_embeddings); a configuration that vLLM would refuse to
// start is a Prediction with Fits false, Failure set and Err() non-nil.
func Predict(cfg Config, in PredictInput) (Prediction, error) {
	if err := cfg.Validate(); err != nil {
		return Prediction{}, err
	}
	engine, err := Profile(in.VLLMVersion)
	if err != nil {
		return Prediction{}, err
	}
	quant := cfg.Quantization
	if in.Quantization != "" {
		if quant, err = ParseQuantization(in.Quantization); err != nil {
			return Prediction{}, err
		}
		if cfg.Quantization.Method == quant.Method {
			quant = cfg.Quantization // the checkpoint's bits and group size
		}
	}
	if engine.BnBDequantizesStatistics {
		quant.DoubleQuant = false
	}
	tp := max(in.TensorParallelSize, 1)
	if cfg.NumAttentionHeads%tp != 0 {
		return Prediction{}, fmt.Errorf("modelcfg: total number of attention heads (%d) must be divisible by tensor parallel size (%d)", cfg.NumAttentionHeads, tp)
	}
	p := Prediction{
		TensorParallelSize:   tp,
		Quantization:         quant.Method,
		Engine:               engine.Name,
		GPUMemoryUtilization: in.GPUMemoryUtilization,
		MaxModelLen:          in.MaxModelLen,
		BlockSize:            in.BlockSize,
		MaxNumBatchedTokens:  in.MaxNumBatchedTokens,
		MaxNumSeqs:           in.MaxNumSeqs,
	}
	if p.GPUMemoryUtilization == 0 {
		p.GPUMemoryUtilization = engine.DefaultGPUMemoryUtilization
	}
	if p.GPUMemoryUtilization < 0 || p.GPUMemoryUtilization > 1 {
		return Prediction{}, fmt.Errorf("modelcfg: gpu_memory_utilization %g is outside (0, 1]", p.GPUMemoryUtilization)
	}
	if in.TotalMemoryBytes <= 0 && in.KVCacheMemoryBytes <= 0 {
		return Prediction{}, errors.New("modelcfg: predict needs the GPU's total memory")
	}
	if p.MaxModelLen == 0 {
		p.MaxModelLen = cfg.MaxPositionEmbeddings
	}
	if p.MaxModelLen <= 0 {
		return Prediction{}, errors.New("modelcfg: max_model_len unknown (config has no max_position_embeddings)")
	}
	if !in.AllowLongMaxModelLen {
		if err := CheckMaxModelLen(cfg, p.MaxModelLen); err != nil {
			return Prediction{}, err
		}
	}
	if p.BlockSize == 0 {
		p.BlockSize = DefaultBlockSize
		if cfg.IsMLA() {
			p.BlockSize = DefaultMLABlockSize
		}
	}
	mnbt, mns := BatchDefaults(in.TotalMemoryBytes, in.GPUName)
	if p.MaxNumBatchedTokens == 0 {
		p.MaxNumBatchedTokens = mnbt
	}
	if p.MaxNumSeqs == 0 {
		p.MaxNumSeqs = mns
	}
	if engine.ProfilesMaxModelLen {
		// V0: 256 sequences; without chunked prefill (its default up to 32k
		// tokens) a batch holds a whole max-length prompt.
		if in.MaxNumSeqs == 0 {
			p.MaxNumSeqs = 256
		}
		if in.MaxNumBatchedTokens == 0 {
			p.MaxNumBatchedTokens = 2048
			if p.MaxModelLen <= 32768 {
				p.MaxNumBatchedTokens = max(p.MaxModelLen, 2048)
			}
		}
	}
	if p.DType, err = ModelDType(cfg, in.DType); err != nil {
		return Prediction{}, err
	}
	p.KVCacheDType = strings.ToLower(strings.TrimSpace(in.KVCacheDType))
	if p.KVCacheDType == "" {
		p.KVCacheDType = "auto"
	}
	kvModel := cfg
	kvModel.TorchDType = p.DType
	if p.DType == "fp8" {
		kvModel.TorchDType = "bfloat16" // fp8 weights keep a 16-bit "auto" KV cache
	}
	kvElem, err := kvElemBytes(kvModel, p.KVCacheDType)
	if err != nil {
		return Prediction{}, err
	}
	if p.KVCacheDType == "auto" && p.DType != "fp8" {
		// "auto" is the dtype the model is served in, already resolved here
		// (so an explicit --dtype float32 keeps a 4-byte cache).
		kvElem = DTypeBytes(p.DType)
	}
	if !in.DisableSlidingWindow {
		p.SlidingWindow = cfg.SlidingWindow
	}
	p.groupLayers(cfg)
	// One rank's view: heads split by tp; KV heads replicated below one per rank.
	rank := cfg
	rank.NumAttentionHeads /= tp
	rank.NumKeyValueHeads = max(1, cfg.NumKeyValueHeads/tp)
	rank.IntermediateSize /= tp
	p.KVHeadsPerGPU = rank.NumKeyValueHeads
	if cfg.IsMLA() {
		rank.NumKeyValueHeads, p.KVHeadsPerGPU = cfg.NumKeyValueHeads, 1
	}

	actBytes := DTypeBytes(p.DType)
	if p.DType == "fp8" {
		actBytes = 2 // fp8 weights still compute in 16-bit
	}
	p.WeightsBytes = RankWeightBytes(cfg, p.DType, quant, tp, in.GPUName)
	p.KVBytesPerToken = int64(cfg.NumHiddenLayers) * kvBytesPerTokenPerLayer(rank, p.KVCacheDType, kvElem)
	layerPage := p.KVBytesPerToken / int64(cfg.NumHiddenLayers) * int64(p.BlockSize)
	p.BlockBytes = layerPage * int64(p.GroupSize)
	p.RequestedBytes = int64(float64(in.TotalMemoryBytes) * p.GPUMemoryUtilization)
	p.ActivationPeakBytes = activationPeakBytes(rank, p.MaxNumBatchedTokens, p.MaxNumSeqs, actBytes, engine.SamplerBytesPerLogit, in.FlashInferSampler)
	p.NonTorchBytes = engine.NonTorchBytes
	if tp > 1 {
		p.NonTorchBytes += TPNonTorchBytes
		if engine.ChargesInitCommBuffers && in.CustomAllReduce {
			p.NonTorchBytes += CustomAllReduceInitBytes
		}
		if engine.FusesAllReduceRMSNorm && in.AllReduceFusion {
			p.NonTorchBytes += AllReduceFusionBytes
		}
	}
	if engine.ChargesCUDAContext {
		p.NonTorchBytes += ChargedContextBytes
	}
	if !in.EnforceEager {
		p.CUDAGraphBytes = CUDAGraphBytes(cfg)
		p.CUDAGraphInBudget = engine.CUDAGraphInBudget && !in.NoCUDAGraphEstimate
	}
	p.NonKVBytes = p.WeightsBytes + p.ActivationPeakBytes + p.NonTorchBytes
	if p.CUDAGraphInBudget {
		p.NonKVBytes += p.CUDAGraphBytes
	}
	var formula strings.Builder
	if in.KVCacheMemoryBytes > 0 {
		p.KVPoolBytes = in.KVCacheMemoryBytes
		fmt.Fprintf(&formula, "kv_pool = kv_cache_memory_bytes = %s", gib(p.KVPoolBytes))
	} else {
		p.KVPoolBytes = p.RequestedBytes - p.NonKVBytes
		fmt.Fprintf(&formula, "kv_pool = %s × %.2f − (weights %s + activation %s + non_torch %s",
			gib(in.TotalMemoryBytes), p.GPUMemoryUtilization, gib(p.WeightsBytes), gib(p.ActivationPeakBytes), gib(p.NonTorchBytes))
		if p.CUDAGraphInBudget {
			fmt.Fprintf(&formula, " + cuda_graph %s", gib(p.CUDAGraphBytes))
		}
		fmt.Fprintf(&formula, ") = %s", gib(p.KVPoolBytes))
	}
	if p.KVPoolBytes > 0 {
		p.NumBlocks = p.KVPoolBytes / p.BlockBytes
	}
	fmt.Fprintf(&formula, "; blocks = floor(kv_pool / (%d tokens × %d layers × %d B)) = %d",
		p.BlockSize, p.GroupSize, p.KVBytesPerToken/int64(cfg.NumHiddenLayers), p.NumBlocks)
	if in.NumGPUBlocksOverride > 0 {
		p.NumBlocks = int64(in.NumGPUBlocksOverride)
		fmt.Fprintf(&formula, " → override %d", p.NumBlocks)
	}
	p.KVTokens = p.NumBlocks / int64(p.FullGroups+p.SlidingGroups) * int64(p.BlockSize)
	p.MaxConcurrency = round2(float64(p.KVTokens) / float64(p.MaxModelLen))
	p.BlocksPerRequest = p.blocksFor(p.MaxModelLen)
	p.RequestKVBytes = p.requestBytes(p.MaxModelLen, layerPage)
	p.EngineConcurrency = round2(float64(p.NumBlocks) / float64(p.BlocksPerRequest))
	fmt.Fprintf(&formula, "; tokens = %d × %d = %d; concurrency = %d / %d = %.2fx",
		p.NumBlocks, p.BlockSize, p.KVTokens, p.KVTokens, p.MaxModelLen, p.MaxConcurrency)
	p.Formula = formula.String()

	p.ExpectedUsedBytes = p.RequestedBytes + CUDAContextBytes
	switch {
	case in.NumGPUBlocksOverride > 0:
		// Only the overridden blocks are allocated.
		p.ExpectedUsedBytes = p.NonKVBytes + p.NumBlocks*p.BlockBytes + CUDAContextBytes
	case in.KVCacheMemoryBytes > 0:
		p.ExpectedUsedBytes = p.NonKVBytes + p.KVPoolBytes + CUDAContextBytes
	}
	if p.CUDAGraphBytes > 0 && !p.CUDAGraphInBudget {
		p.ExpectedUsedBytes += p.CUDAGraphBytes
	}

	// vLLM checks that one max-length request fits the profiled pool before
	// it applies --num-gpu-blocks-override (check_enough_kv_cache_memory, then
	// get_num_blocks), so the check ignores the override.
	avail := p.KVPoolBytes
	p.EstimatedMaxModelLen = p.estimateMaxLen(avail, layerPage)
	switch {
	case avail <= 0:
		p.err = ErrNoCacheMemory
	case p.RequestKVBytes > avail:
		p.err = &DoesNotFitError{MaxModelLen: p.MaxModelLen, NeededBytes: p.RequestKVBytes,
			AvailableBytes: avail, EstimatedMaxModelLen: p.EstimatedMaxModelLen}
	}
	p.Fits = p.err == nil
	if p.err != nil {
		p.Failure = p.err.Error()
	}
	return p, nil
}

// groupLayers splits the layers into vLLM's KV-cache groups: one group for
// a model of one attention kind; for a hybrid model, groups of the smaller
// kind's layer count (or the larger's when it is under 1.25× the smaller),
// each kind padded to whole groups.
func (p *Prediction) groupLayers(cfg Config) {
	layers := cfg.NumHiddenLayers
	full := layers
	if p.SlidingWindow > 0 {
		full = cfg.FullAttentionLayers // 0: every layer slides
	}
	p.FullLayers, p.SlidingLayers = full, layers-full
	if p.FullLayers == 0 || p.SlidingLayers == 0 {
		p.GroupSize = layers
		p.FullGroups, p.SlidingGroups = 0, 0
		if p.FullLayers > 0 {
			p.FullGroups = 1
		} else {
			p.SlidingGroups = 1
		}
		return
	}
	lo, hi := min(full, layers-full), max(full, layers-full)
	p.GroupSize = lo
	if float64(hi) < 1.25*float64(lo) {
		p.GroupSize = hi
	}
	p.FullGroups = int(cdiv(int64(p.FullLayers), int64(p.GroupSize)))
	p.SlidingGroups = int(cdiv(int64(p.SlidingLayers), int64(p.GroupSize)))
}

// layerBlocks returns the blocks one layer of each kind holds for a request
// of l tokens: all of them under full attention; under a sliding window W
// cdiv(min(W−1+max_num_batched_tokens, l), block)+1 (vLLM's
// max_memory_usage_bytes of the spec).
func (p Prediction) layerBlocks(l int) (full, sliding int64) {
	bs := int64(p.BlockSize)
	full = cdiv(int64(l), bs)
	if p.SlidingWindow > 0 {
		sliding = cdiv(min(int64(p.SlidingWindow-1+p.MaxNumBatchedTokens), int64(l)), bs) + 1
	}
	return full, sliding
}

// blocksFor is the worst-case block count (group blocks) of one request of
// l tokens: the sum over groups, as vLLM's get_max_concurrency_for_kv_cache_config.
func (p Prediction) blocksFor(l int) int64 {
	f, s := p.layerBlocks(l)
	return int64(p.FullGroups)*f + int64(p.SlidingGroups)*s
}

// requestBytes is one request's KV bytes summed over the real layers (no
// padding), which vLLM's check_enough_kv_cache_memory compares with the pool.
func (p Prediction) requestBytes(l int, layerPage int64) int64 {
	f, s := p.layerBlocks(l)
	return (int64(p.FullLayers)*f + int64(p.SlidingLayers)*s) * layerPage
}

// estimateMaxLen binary-searches the largest L ≤ MaxModelLen whose request
// fits avail, as vLLM's estimate_max_model_len does; 0 if none.
func (p Prediction) estimateMaxLen(avail, layerPage int64) int {
	lo, hi := 0, p.MaxModelLen
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if p.requestBytes(mid, layerPage) <= avail {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/float64(GiB)) }
