// Package sim is runexp's built-in simulated vLLM engine and GPU:
// `runexp sim serve [MODEL] [flags]` (ParseArgs, then Serve until ctx is
// cancelled; internal/cli owns the signals and the exit code) behaves like
// `vllm serve` — same flags and defaults, log lines, memory accounting,
// endpoints and metrics — on a modelled GPU, so experiments run end to end
// on machines without a GPU or vLLM. Everything it reports is modelled,
// and it says so: its first log line is "runexp simulator: simulated vLLM
// engine, GPU preset …", /version reports Version, and its devices are
// named "(simulated)".
//
// # Flags
//
// vLLM's names and defaults: MODEL (or --model), --max-model-len (default:
// max_position_embeddings; 4k = 4000, 4K = 4096 as in vLLM),
// --gpu-memory-utilization 0.92, --max-num-seqs and --max-num-batched-tokens
// (1024 / 8192 on H100/H200, 256 / 2048 elsewhere), --block-size 16, --dtype
// auto, --kv-cache-dtype auto, --enforce-eager, --num-gpu-blocks-override,
// --enable-prefix-caching (on, as in vLLM V1; --no-enable-prefix-caching),
// --enable-prompt-tokens-details, --seed, --served-model-name, --port 8000,
// and --host 127.0.0.1 (vLLM listens on 0.0.0.0; the simulator stays on
// loopback unless told).
// Simulator flags: --gpu (presets in gpus.go: H100-80GB default, H200,
// A100-40GB, A100-80GB, L4, T4, RTX-4090), --model-config (any Hugging Face
// config.json; otherwise a modelcfg preset named by MODEL), --startup-delay
// (300ms), --time-scale (1; 0 = steps take no wall time). Unknown flags are
// errors (exit 2); vLLM flags the simulator does not model are named as such.
//
// # Memory
//
// All memory numbers come from modelcfg.Predict (vLLM V1's profiling
// budget): kv_pool = util × total − (weights + activation peak + non-torch +
// CUDA-graph estimate unless eager); blocks = floor(kv_pool / (block_size ×
// kv_bytes_per_token)); "GPU KV cache size" = blocks × block_size; the logged
// "Maximum concurrency" is blocks / worst-case blocks of one max_model_len
// request (one more for sliding-window models). L that does not fit, a
// budget ≤ 0, or L above max_position_embeddings (without
// VLLM_ALLOW_LONG_MAX_MODEL_LEN=1) exit 1 with vLLM's error text. Total is
// the CUDA-visible memory of the preset (e.g. 79.19 GiB for H100-80GB).
//
// GPU accounting: each server keeps <StateDir>/<pid>.json
// (simgpu.ServerState; simgpu.StateDir is $RUNEXP_SIM_GPU_DIR or
// <tmp>/runexp-simgpu; the presets are simgpu's too). used_bytes is 0
// at start, CUDA context (modelcfg.CUDAContextBytes, 512 MiB) + weights after
// loading, and context + weights + activation + non-torch + graphs + KV
// blocks once the pool is allocated — what nvidia-smi would show, equal to
// modelcfg's ExpectedUsedBytes within one block. The file is removed on a
// clean exit (SIGTERM/SIGINT: exit 0); a crashed or killed server's file
// counts as released because its pid is dead (simgpu.ReadServerStates). A
// server refuses to start, as vLLM does, when other live servers on the same
// simulated device leave less free memory than util × total. One server per
// process. internal/gpu/simgpu reads these files as the "sim" GPU backend.
//
// # Engine
//
// The scheduler follows vLLM V1: continuous batching of at most
// max_num_seqs requests; each step first serves the running requests (one
// decode token, or the next prefill chunk) and then admits waiting ones, all
// within max_num_batched_tokens (chunked prefill); KV blocks of block_size
// tokens come from a pool of num_gpu_blocks; when a running request needs a
// block and none is free, the most recently admitted request is preempted
// (recompute: blocks freed, prompt + generated tokens prefilled again on
// resume; no new admissions in that step). Sliding-window models hold only
// the blocks the window still reaches, cdiv(W−1+n, block)+1.
//
// Automatic prefix caching (prefixcache.go) follows vLLM V1's BlockPool:
// each full block of prompt tokens is known by a hash chained with its
// parent's, so equal hashes mean equal prefixes. A request taken from the
// queue first looks up its longest cached prefix — at most prompt−1 tokens,
// since the last token is always computed for its logits, so a repeated
// prompt of N tokens hits floor((N−1)/16)×16 and a shared prefix of P
// tokens followed by other text hits floor(P/16)×16; for sliding-window
// groups vLLM's right-to-left search for cdiv(W−1, block) contiguous
// cached blocks — holds those blocks (ref-counted, counted once in KV
// usage) and computes only the rest, so prefill time and TTFT count only
// uncached tokens. Blocks a chunk completes are cached when allocated; a
// finished or preempted request's blocks stay cached as free blocks (last
// block first in eviction order) and are evicted least recently freed
// first, only when no uncached free block is left. A preempted request
// resumes from its own cached blocks. A request's cache_salt seeds its hash
// chain, so requests with different salts share nothing (an empty salt is
// a 400, as in vLLM). Blocks filled by generated tokens are cached too: a
// later chat turn that carries the reply tokenizes it to the same ids (see
// Requests) and hits every full block of turn one whose KV was computed.
// vllm:prefix_cache_queries_total and _hits_total count, in tokens, each
// request's first admission (vLLM counts resumed preempted requests
// apart); the periodic log line's "Prefix cache hit rate" is over the last
// 1,000 requests, as vLLM's CachingMetrics.
//
// Each step's duration is a roofline of the GPU preset:
//
//	bytes = weight_bytes + Σ_req (ctx + n) × kv_bytes_per_token
//	flops = 2 × params × Σ_req n + Σ_req 2 × layers × heads × (qk_dim + v_dim) × (n × ctx + n(n+1)/2)
//	t     = max(bytes / (0.80 × HBM bandwidth), flops / (0.50 × 16-bit peak))
//	        + 1 ms + 30 µs × requests in the step [+ 40 µs × layers with --enforce-eager]
//
// where n is the tokens the request computes in the step and ctx those
// already cached (capped at the window for sliding-window models). 0.80 is
// the bandwidth share vLLM reaches in single-stream decode (~77 % measured on
// an A100), 0.50 a large-prefill MFU; the fixed terms are host overhead per
// step and per request. The engine runs in its own goroutine on the real
// clock: it sleeps t × --time-scale per step (catching up on oversleep while
// busy) and streams each sampled token as its step completes. The state file
// carries util_percent, the share of the last second spent in steps.
//
// # Requests
//
// Tokens (text.go): a prompt of c characters is ceil(c/4) tokens, one per
// 4-character chunk (an empty prompt is one token); a chunk of 4 letters
// a–z, A–F is the base-32 spelling of its id, any other chunk's id is a
// hash of it, and /detokenize spells ids that way, so detokenize → tokenize
// (or completions) gives back exactly the ids: a prompt of exactly N
// tokens. A list of token ids is its length (ids outside the model's
// vocab_size are a 400, "Token id X is out of vocabulary"). A chat prompt
// is a ChatML-like template: per message <|im_start|> role \n content
// <|im_end|>, then the assistant header, Σ(4 + tokens(content)) + 3; a
// later turn starts with the earlier turn's tokens.
// Output is one three-letter word and a space per token (4 characters, so
// the reply tokenizes back to the generated ids), deterministic in (prompt,
// seed); a chat reply is the same text as a completion's. With
// ignore_eos a request produces exactly max_tokens (finish_reason "length");
// otherwise it "emits EOS" after its natural length 16 + hash(prompt, seed)
// mod 240 tokens, never before min_tokens ("stop"), or hits max_tokens
// ("length"). max_tokens defaults to 16 for completions and to what is left of
// max_model_len for chat; prompt + max_tokens > max_model_len is a 400 with
// vLLM's message and {"error": {...}} shape.
//
// Endpoints: GET /health (the port is not listening until the engine is
// ready, as with vLLM), /version, /v1/models (with max_model_len), /metrics;
// POST /v1/completions and /v1/chat/completions, non-streaming and SSE
// (stream_options.include_usage → a final chunk with "choices": [] and usage,
// then "data: [DONE]"; continuous_usage_stats; with
// --enable-prompt-tokens-details and a prefix cache hit, usage carries
// prompt_tokens_details.cached_tokens); POST /tokenize ({prompt} or
// {messages, add_generation_prompt, continue_final_message},
// return_token_strs → {count, max_model_len, tokens, token_strs}; an
// over-long prompt is tokenized, not refused, as in vLLM;
// add_special_tokens has no effect) and /detokenize ({tokens} → {prompt});
// POST /reset_prefix_cache only with VLLM_SERVER_DEV_MODE=1, as vLLM (200,
// or 409 while requests hold blocks unless ?reset_running_requests=true).
// /metrics is Prometheus text with vLLM's names: vllm:num_requests_running,
// vllm:num_requests_waiting, vllm:kv_cache_usage_perc,
// vllm:num_preemptions_total, vllm:prefix_cache_queries_total,
// vllm:prefix_cache_hits_total,
// vllm:prompt_tokens_total, vllm:generation_tokens_total,
// vllm:request_success_total{finished_reason}, the histograms
// vllm:time_to_first_token_seconds, vllm:inter_token_latency_seconds and
// vllm:e2e_request_latency_seconds (vLLM's buckets), and
// vllm:cache_config_info with num_gpu_blocks, block_size,
// kv_cache_size_tokens, kv_cache_max_concurrency, gpu_memory_utilization,
// cache_dtype, sliding_window, … labels.
//
// # Fidelity
//
// Phi-3-mini-4k-instruct on H100-80GB at --gpu-memory-utilization 0.92
// (defaults otherwise; modelcfg as of 2026-12-05): weights 7.12 GiB,
// available KV cache 64.27 GiB, pool 175,488 tokens (10,968 blocks) at every
// max_model_len. Logged maximum concurrency 332.36x at 512, 168.74x at
// 1,024, 85.02x at 2,048 and 42.68x at 4,096 (pool / L: 342.8x, 171.4x,
// 85.7x, 42.8x; the logged figure is lower because Phi-3's sliding window
// costs one extra block per request). kv-cache-facts.md estimates ~165–175k
// tokens and ~330x / 165x / 83x / 41x. 32 requests × 32 tokens of the seed's
// prompt (13 tokens): single-stream decode 3.85 ms/token (~257 tok/s;
// facts: ~200–340), sequential 3.98 s vs concurrent 0.16 s of modelled time,
// a 24.6x speedup (23x measured over HTTP at --time-scale 1 on a 2-core
// host; facts expect ≥10–30x at this concurrency for vLLM on an H100).
// TestPhi3PoolIsFlatAcrossMaxModelLen and TestModelledConcurrencySpeedup
// recompute these numbers.
//
// Not modelled: speculative decoding, LoRA, quantized
// weights, tensor/pipeline parallelism, CPU swap, stop strings, n > 1,
// logprobs, sampling parameters (all ignored), tokenizer fidelity, and
// MoE active-parameter counts in the roofline.
package sim
