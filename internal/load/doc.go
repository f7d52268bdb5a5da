// Package load is runexp's load generator for OpenAI-compatible LLM servers
// (vLLM, SGLang, llama.cpp, Ollama, TGI): it sends /v1/completions or
// /v1/chat/completions requests, streaming (SSE) or not, in sequential,
// closed-loop concurrent or open-loop rate modes, and reports per-request
// results and per-mode summaries named like `vllm bench serve`.
//
// # API
//
//	cfg := load.Config{BaseURL: "http://127.0.0.1:8000", Model: "m", Stream: true,
//	    Modes: []load.Mode{{Kind: "sequential", Requests: 32}, {Kind: "concurrent", Requests: 32, Concurrency: 32}}}
//	sums, err := load.Run(ctx, cfg, func(r load.RequestResult) { /* append to requests.jsonl */ })
//
// Run returns an error only for setup problems and cancellation; request
// failures are data (RequestResult.ErrorClass, Summary.ErrorsByClass,
// Summary.ThresholdExceeded). Summarize recomputes a Summary from stored
// results. The `runexp load` command (flags, exit codes) is internal/cli's.
//
// # Modes
//
//   - sequential: one request at a time, Requests requests.
//   - concurrent: closed loop, Concurrency workers each sending its next
//     request when the previous one ends. IntendedStart is the moment the
//     worker became free, so LagMs is the generator's own overhead.
//   - replay: open loop at a trace dataset's own send offsets (see
//     Datasets), otherwise as rate.
//   - rate: open loop. Schedule(mode) fixes every intended send time in
//     advance (constant 1/Rate gaps, or exponential gaps from a PCG
//     generator seeded with Seed; with Burstiness b, gamma gaps of shape b
//     and scale 1/(Rate·b), as vLLM's bench). A dispatcher sends each
//     request on time on its own goroutine; it never waits for responses.
//     When MaxInFlight requests are in flight the request is recorded as
//     dropped (ErrorClass "dropped", Summary.Dropped) and the schedule goes
//     on, or, with WaitForSlot (vLLM's --max-concurrency), sent as soon as
//     one ends. LagMs = Start - IntendedStart measures how late the
//     generator was.
//
// A spec's list of modes decodes as Modes: a mode whose concurrency or rate
// is a list expands, in order, into one mode per level (concurrent-1,
// concurrent-8, ... or a name pattern "c{concurrency}"), all run against
// the same server, so the load axis needs no relaunch; each summary
// carries its level as max_concurrency / request_rate.
//
// A mode with Repeat N > 1 runs N times in a row: a Summary per
// repetition (Rep 1..N, named <mode>-r<i>), then the mode's Summary over
// all their requests with N and RepeatStats: <metric>_mean,
// <metric>_ci95_low and <metric>_ci95_high of each RepeatMetrics value
// across repetitions (Student t, MeanCI95).
//
// # Datasets
//
// Config.Dataset (instead of Prompts) makes the requests, with vLLM's
// dataset names (DatasetName): random (input_len after a shared
// prefix_len, lengths ± range_ratio as vLLM's RandomDataset), sharegpt
// (vLLM's ShareGPT sampling and length filters), jsonl/custom (prompt or
// messages per line, optional output_len), trace (Mooncake JSONL: a block
// of text per hash id, sent by KindReplay modes at the trace's offsets x
// time_scale), shared_prefix (groups of questions after one system prompt
// each, shuffled) and multi_turn (chat sessions whose turns carry the
// conversation with the server's own answers, think time between turns;
// Summary gets TTFT of first vs later turns). Everything is seeded, read
// locally and bounded (MaxDatasetFileBytes, MaxDatasetTokens,
// MaxDatasetTotalTokens). PrepareRequests builds them once for several
// runs (Config.Prepared).
//
// Lengths are tokens as the server counts them: each prompt is cut to the
// exact length with a Counter, the server's POST /tokenize (vLLM's
// TokenizeRequest/Response) when DetectCounter finds it, else max_tokens=1
// probes read back as usage.prompt_tokens; with Dataset.Tokenizer, a local
// Hugging Face tokenizer.json (package tokenizer) counts instead, offline,
// as vLLM bench's --tokenizer (the spec decoder checks the file, and
// loaded files are kept per process). RequestResult carries
// IntendedPromptTokens; Summary.PromptTokenChecks and
// PromptTokenMismatches compare it with the server's usage.
//
// With Config.MetricsPath ("/metrics") each mode's Summary gets the growth
// of vLLM's vllm:prefix_cache_queries and vllm:prefix_cache_hits counters
// and their ratio (PrefixCacheHitRate), and the peak of
// vllm:kv_cache_usage_perc sampled every 250 ms (KVCacheUsageMax); a server
// without them leaves the fields unset.
//
// # SLOs and goodput
//
// Mode.SLO (else Config.SLO) holds per-request SLOs, as vLLM's --goodput
// (ttft_ms, tpot_ms, e2el_ms: a request meets them when it completed within
// each), which give Summary.RequestGoodput (such requests per second of the
// mode) and SLOAttainment (their share of the requests sent), and aggregate
// SLOs (p50/p90/p95/p99 of ttft/tpot/itl/e2el, max_error_rate,
// min_slo_attainment), which give SLOPass, SLOBinding (the first that
// failed) and SLOMargins (headroom per SLO; negative when violated).
// Summaries without SLOs leave these fields unset (Values omits them).
//
// # Search
//
// A KindSearch mode does not go through Run: Search (RunSearch with a
// Prober, for tests) probes concurrency (closed loop) or rate (open loop)
// from Min to a SearchBound (a number, or ResolveSearchMax's "auto": the
// engine's logged max_concurrency, else the predicted one, else
// DefaultSearchMax). It probes the bound first, then bisects the levels
// Tolerance apart, assuming a monotonic server: at most
// ceil(log2(max/min)) + 3 probes for min 1. The answer is re-probed
// Replicates times and a failure there reported (SearchResult.Monotonic),
// never hidden. Every probe is a Summary with Probe set; a failing probe is
// data, not an error (its ThresholdExceeded is cleared). SearchResult.Note
// says what binds: latency, or memory when the answer is the KV bound.
//
// Each mode is preceded by Config.Warmup closed-loop requests that are not
// recorded. Modes run in order against the same server and connection pool.
// Config.OnProgress, if set, gets a Progress (completed, failed, in flight,
// req/s, tok/s, elapsed, ETA) every Config.ProgressInterval while a mode
// runs and once when it ends; ProgressPrinter writes it as a redrawn
// terminal line or as plain log lines.
//
// # Measurement
//
// Start is taken just before the request is handed to the transport. With
// Stream, the body asks for stream_options.include_usage; TTFT is Start → the
// first SSE event whose choice has non-empty text, delta.content or
// delta.reasoning_content; every later content event adds one inter-token
// gap (ITLms); E2ELms ends at "data: [DONE]". Token counts come only from
// the usage chunk whose "choices" is empty (Ollama sends an all-zero usage in
// every /v1/completions chunk); without one, completion tokens are the
// number of content events and TokensSource is "chunks". finish_reason is
// the last one seen. TPOT = (E2EL - TTFT) / (completion_tokens - 1).
//
// Failures are classified (Class* constants): http_4xx, http_5xx (status
// kept), refused, reset (incl. a truncated chunked body), timeout
// (RequestTimeout, enforced by a sweeper within timeout/50, at most 50ms
// late), malformed_sse (invalid JSON in an event), no_done (clean end of
// stream without [DONE]), other (error event in the stream, bad JSON body,
// ...), canceled (the run's ctx was cancelled: counted in Summary.Canceled,
// not as a failure, so an interrupt never trips the error threshold; the
// mode's Summary.Interrupted says its figures are partial). The first
// MaxErrorMessages distinct messages of each class are kept in
// Summary.ErrorMessages.
//
// BenchResult encodes a mode as `vllm bench serve --save-result` does
// (vLLM's field names and units), for tools written for vLLM's files.
//
// Statistics (Summarize) follow vLLM: exact over stored samples, population
// std (numpy ddof=0), percentiles by linear interpolation between closest
// ranks (numpy's default, rank = p/100·(n-1)), n_<metric> beside each.
//
// # Secrets
//
// Config.APIKey is sent only as "Authorization: Bearer". Config's String,
// GoString and MarshalJSON redact it, and it is replaced by [REDACTED] in any
// error message recorded in results (a server may echo it back).
//
// # Cost
//
// All requests share one HTTP/1.1 http.Transport whose idle pool holds the
// mode's concurrency. Request bodies are encoded once per prompt; per-worker
// buffers (SSE reader, body buffer) are reused; per-request timeouts need no
// context or timer allocation; the SSE reader and the chunk parser
// (a validating, non-allocating JSON scanner that extracts only choices,
// usage and errors) do not allocate. Results stay in per-worker slices, so
// without onResult there is no cross-goroutine handoff per request.
package load
