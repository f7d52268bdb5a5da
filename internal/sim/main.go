package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/modelcfg"
)

// Version is what the simulator reports where vLLM reports its version.
const Version = simgpu.Version

// engineSetup is everything startup resolves before the engine runs.
type engineSetup struct {
	gpu   simgpu.GPU
	cfg   modelcfg.Config
	pred  modelcfg.Prediction
	names []string
}

// resolve turns options into a model, GPU and memory prediction. Errors
// are vLLM's configuration errors (or ours for unknown presets).
func resolve(o Options, log *logger) (engineSetup, error) {
	var st engineSetup
	var err error
	if st.gpu, err = simgpu.LookupGPU(o.GPU); err != nil {
		return st, err
	}
	st.gpu = st.gpu.At(visibleGPU())
	if o.ModelConfig != "" {
		st.cfg, err = modelcfg.Load(o.ModelConfig)
	} else {
		st.cfg, err = modelcfg.Resolve(o.Model)
	}
	if err != nil {
		return st, err
	}
	if o.Model == "" {
		o.Model = st.cfg.Name
	}
	st.names = o.ServedModelName
	if len(st.names) == 0 {
		st.names = []string{o.Model}
	}

	dtype, err := modelcfg.ModelDType(st.cfg, o.DType)
	if err != nil {
		return st, err
	}
	if dtype == "bfloat16" && !st.gpu.BF16 {
		if o.DType != "" && o.DType != "auto" {
			//lint:ignore ST1005 vLLM's exact message, which log parsers match
			return st, fmt.Errorf("Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your %s GPU has compute capability 7.5. You can use float16 instead by explicitly setting the `dtype` flag in CLI, for example: --dtype=half.", st.gpu.Product)
		}
		log.warn(procAPI, "config.py:3221", "Your device %q doesn't support torch.bfloat16. Falling back to torch.float16 for compatibility.", st.gpu.Product)
		dtype = "float16"
	}
	allowLong := envTrue("VLLM_ALLOW_LONG_MAX_MODEL_LEN")
	in := modelcfg.PredictInput{
		TotalMemoryBytes:     int64(st.gpu.MemoryBytes),
		GPUName:              st.gpu.Name,
		GPUMemoryUtilization: o.GPUMemoryUtilization,
		MaxModelLen:          o.MaxModelLen,
		BlockSize:            o.BlockSize,
		MaxNumBatchedTokens:  o.MaxNumBatchedTokens,
		MaxNumSeqs:           o.MaxNumSeqs,
		DType:                dtype,
		KVCacheDType:         o.KVCacheDType,
		EnforceEager:         o.EnforceEager,
		AllowLongMaxModelLen: allowLong,
		NumGPUBlocksOverride: o.NumGPUBlocksOverride,
	}
	if st.pred, err = modelcfg.Predict(st.cfg, in); err != nil {
		if errors.Is(err, modelcfg.ErrMaxModelLenTooLarge) {
			return st, &startupError{"pydantic_core._pydantic_core.ValidationError",
				fmt.Errorf("1 validation error for ModelConfig\n  Value error, %v [type=value_error]", err)}
		}
		return st, err
	}
	if p := st.pred; p.MaxNumBatchedTokens < p.MaxNumSeqs {
		//lint:ignore ST1005 vLLM's exact message, which log parsers match
		return st, fmt.Errorf("max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d).", p.MaxNumBatchedTokens, p.MaxNumSeqs)
	}
	if in.AllowLongMaxModelLen && st.cfg.MaxPositionEmbeddings > 0 && st.pred.MaxModelLen > st.cfg.MaxPositionEmbeddings {
		log.warn(procAPI, "config.py:3647", "User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d). Make sure the value is correct and within the model context size.", st.pred.MaxModelLen, st.cfg.MaxPositionEmbeddings)
	}
	return st, nil
}

// envTrue reports whether the environment variable is set to 1 or true,
// as vLLM reads its boolean VLLM_* variables.
func envTrue(name string) bool {
	v := os.Getenv(name)
	return v == "1" || strings.EqualFold(v, "true")
}

// startupError is a startup failure with the Python exception type vLLM
// would print; other startup errors print as ValueError.
type startupError struct {
	kind string
	err  error
}

func (e *startupError) Error() string { return e.err.Error() }
func (e *startupError) Unwrap() error { return e.err }

// engineModel derives the scheduler limits and the step-cost roofline from
// the resolved model, GPU and memory prediction.
func engineModel(st engineSetup, eager, prefixCaching bool) (schedConfig, costModel) {
	cfg, p, g := st.cfg, st.pred, st.gpu
	qkDim, vDim := cfg.HeadDim, cfg.HeadDim
	if cfg.IsMLA() {
		qkDim, vDim = cfg.QKNopeHeadDim+cfg.QKRopeHeadDim, cfg.VHeadDim
	}
	overhead := stepOverhead
	if eager {
		overhead += time.Duration(cfg.NumHiddenLayers) * eagerLayerOverhead
	}
	return schedConfig{
			numBlocks:           int(p.NumBlocks),
			blockSize:           p.BlockSize,
			window:              p.SlidingWindow,
			fullGroups:          p.FullGroups,
			slidingGroups:       p.SlidingGroups,
			maxNumSeqs:          p.MaxNumSeqs,
			maxNumBatchedTokens: p.MaxNumBatchedTokens,
			prefixCaching:       prefixCaching,
		}, costModel{
			weightBytes:     float64(p.WeightsBytes),
			params:          float64(modelcfg.ParamCount(cfg)),
			kvBytesPerToken: float64(p.KVBytesPerToken),
			attnFLOPsPair:   2 * float64(cfg.NumHiddenLayers*cfg.NumAttentionHeads*(qkDim+vDim)),
			window:          p.SlidingWindow,
			bandwidth:       memEfficiency * g.MemoryBandwidth,
			flops:           computeEfficiency * g.PeakFLOPS,
			overhead:        overhead,
		}
}

// sleepCtx waits d or until ctx is done (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ErrServe is returned by Serve when the engine failed to start or the HTTP
// server failed; the cause has already been reported the way vLLM reports
// it (the log on stdout, the exception line on stderr).
var ErrServe = exitcode.Reported(errors.New("simulated server failed"))

// Serve runs a simulated server with parsed options until ctx is
// cancelled, then shuts down cleanly (nil, as vLLM exits 0 on SIGTERM).
// With PrintMemory it prints the memory plan instead.
func Serve(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if serve(ctx, o, stdout, stderr) != 0 {
		return ErrServe
	}
	return nil
}

// serve is Serve returning vLLM's exit code: 0 after a clean shutdown, 1
// when the engine fails to start or the HTTP server fails.
func serve(ctx context.Context, o Options, stdout, stderr io.Writer) int {
	log := &logger{w: stdout, pid: os.Getpid()}
	// fail reports a startup failure the way vLLM does: the root cause in the
	// log, the exception line on stderr.
	fail := func(kind string, err error) int {
		log.error(procAPI, "api_server.py:1979", "%s: %v", kind, err)
		fmt.Fprintf(stderr, "%s: %v\n", kind, err)
		return 1
	}
	if o.StateDir == "" {
		o.StateDir = simgpu.StateDir()
	}
	st, err := resolve(o, log)
	if err != nil {
		if se, ok := errors.AsType[*startupError](err); ok {
			return fail(se.kind, se.err)
		}
		return fail("ValueError", err)
	}
	g, p := st.gpu, st.pred
	modelName := o.Model
	if modelName == "" {
		modelName = st.cfg.Name
	}
	if o.PrintMemory {
		return printMemory(stdout, modelName, g, p)
	}

	log.info(procAPI, "sim.go:1", "runexp simulator: simulated vLLM engine, GPU preset %s (%s, %.2f GiB, %.0f GB/s, %.0f TFLOP/s); no GPU is used and every number is modelled", g.Name, g.Product, gibs(int64(g.MemoryBytes)), g.MemoryBandwidth/1e9, g.PeakFLOPS/1e12)
	log.info(procAPI, "api_server.py:1895", "vLLM API server version %s", Version)
	log.info(procAPI, "config.py:1467", "Using max model len %d", p.MaxModelLen)
	log.info(procAPI, "config.py:2503", "Chunked prefill is enabled with max_num_batched_tokens=%d.", p.MaxNumBatchedTokens)

	if o.Port != 0 {
		// vLLM binds its port before starting the engine; fail as early.
		ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
		if err != nil {
			return fail("OSError", fmt.Errorf("[Errno 98] Address already in use: %v", err))
		}
		ln.Close()
	}

	// Free memory on the simulated device, as vLLM's init_device checks.
	others, err := simgpu.ReadServerStates(o.StateDir, false)
	if err != nil {
		return fail("RuntimeError", err)
	}
	var othersUsed uint64
	for _, s := range others {
		if s.GPUUUID == g.UUID() && s.PID != os.Getpid() {
			othersUsed += s.UsedBytes
		}
	}
	if free := int64(g.MemoryBytes) - int64(othersUsed); free < p.RequestedBytes {
		//lint:ignore ST1005 vLLM's exact message, which log parsers match
		return fail("ValueError", fmt.Errorf("Free memory on device (%.2f/%.2f GiB) on startup is less than desired GPU memory utilization (%.2f, %.2f GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
			gibs(free), gibs(int64(g.MemoryBytes)), p.GPUMemoryUtilization, gibs(p.RequestedBytes)))
	}

	state, err := newStateFile(o.StateDir, g, modelName)
	if err != nil {
		return fail("RuntimeError", err)
	}
	defer state.remove()

	log.info(procEngine, "core.py:620", "Initializing a V1 LLM engine (v%s) with config: model=%q, served_model_name=%s, dtype=torch.%s, max_seq_len=%d, kv_cache_dtype=%s, enforce_eager=%s, seed=%d, device_config=%s (simulated), enable_prefix_caching=%s, chunked_prefill_enabled=True",
		Version, modelName, strings.Join(st.names, ","), p.DType, p.MaxModelLen, p.KVCacheDType, pyBool(o.EnforceEager), o.Seed, g.Name, pyBool(o.EnablePrefixCaching))

	// Startup phases: load 50 %, profile 20 %, KV allocation 10 %, graph
	// capture 20 % of --startup-delay (eager: no capture).
	t0 := time.Now()
	interrupted := func() int {
		log.info(procAPI, "launcher.py:80", "Shutting down during startup (signal received).")
		return 0
	}
	phase := func(frac float64) bool { return sleepCtx(ctx, time.Duration(frac*float64(o.StartupDelay))) }

	if !phase(0.5) {
		return interrupted()
	}
	load := time.Since(t0).Seconds()
	log.info(procEngine, "default_loader.py:268", "Loading weights took %.2f seconds", load)
	log.info(procEngine, "gpu_model_runner.py:2653", "Model loading took %.4f GiB memory and %.6f seconds", gibs(p.WeightsBytes), load)
	state.update(func(s *simgpu.ServerState) {
		s.Phase = "loaded"
		s.UsedBytes = uint64(modelcfg.CUDAContextBytes + p.WeightsBytes)
	})

	if !phase(0.2) {
		return interrupted()
	}
	if p.CUDAGraphBytes > 0 {
		log.info(procEngine, "gpu_model_runner.py:3845", "Estimated CUDA graph memory: %.2f GiB total", gibs(p.CUDAGraphBytes))
	}
	log.info(procEngine, "gpu_worker.py:298", "Available KV cache memory: %.2f GiB", gibs(p.KVPoolBytes))
	if !p.Fits {
		log.error(procEngine, "core.py:843", "EngineCore failed to start.")
		log.error(procEngine, "core.py:843", "ValueError: %s", p.Failure)
		log.error(procAPI, "api_server.py:1979", "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}")
		fmt.Fprintf(stderr, "ValueError: %s\n", p.Failure)
		return 1
	}
	if o.NumGPUBlocksOverride > 0 {
		log.info(procEngine, "kv_cache_utils.py:1025", "Overriding num_gpu_blocks=%d with num_gpu_blocks_override=%d", (p.KVPoolBytes / p.BlockBytes), p.NumBlocks)
	}

	if !phase(0.1) {
		return interrupted()
	}
	log.info(procEngine, "kv_cache_utils.py:1087", "GPU KV cache size: %s tokens", commas(p.KVTokens))
	log.info(procEngine, "kv_cache_utils.py:1091", "Maximum concurrency for %s tokens per request: %.2fx", commas(int64(p.MaxModelLen)), p.EngineConcurrency)
	full := modelcfg.CUDAContextBytes + p.WeightsBytes + p.ActivationPeakBytes + p.NonTorchBytes + p.CUDAGraphBytes + p.NumBlocks*p.BlockBytes
	state.update(func(s *simgpu.ServerState) { s.UsedBytes = uint64(full) })

	if p.CUDAGraphBytes > 0 {
		tg := time.Now()
		if !phase(0.2) {
			return interrupted()
		}
		log.info(procEngine, "gpu_model_runner.py:3961", "Graph capturing finished in %.0f secs, took %.2f GiB", time.Since(tg).Seconds(), gibs(p.CUDAGraphBytes))
	}
	log.info(procEngine, "core.py:210", "init engine (profile, create kv cache, warmup model) took %.2f seconds", time.Since(t0).Seconds())

	// Engine and HTTP server.
	sc, cost := engineModel(st, o.EnforceEager, o.EnablePrefixCaching)
	eng := newEngine(sc, cost, o.TimeScale)
	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	go eng.run(engCtx)

	tok := newTokenizer(st.cfg.VocabSize)
	srv := &server{
		eng: eng, names: st.names, root: modelName, maxModelLen: p.MaxModelLen, seed: o.Seed, log: log,
		tok: tok, fillerIDs: tok.fillerIDs(), promptDetails: o.EnablePromptTokensDetails,
		devMode: envTrue("VLLM_SERVER_DEV_MODE"),
		created: time.Now().Unix(),
		ci: cacheInfo{
			blockSize: p.BlockSize, numGPUBlocks: int(p.NumBlocks), numBlocksOverride: o.NumGPUBlocksOverride,
			gpuMemUtil: p.GPUMemoryUtilization, cacheDType: p.KVCacheDType, slidingWindow: p.SlidingWindow,
			kvTokens: int(p.KVTokens), maxConcurrency: p.EngineConcurrency,
			prefixCaching: o.EnablePrefixCaching,
		},
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return fail("OSError", fmt.Errorf("[Errno 98] Address already in use: %v", err))
	}
	addr := ln.Addr().String()
	hs := &http.Server{Handler: srv.handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.info(procAPI, "api_server.py:1912", "Starting vLLM API server 0 on http://%s", addr)
	log.access(fmt.Sprintf("Started server process [%d]", os.Getpid()))
	log.access("Waiting for application startup.")
	log.access("Application startup complete.")
	port := ln.Addr().(*net.TCPAddr).Port
	state.update(func(s *simgpu.ServerState) { s.Phase = "ready"; s.Port = port })
	if o.ready != nil {
		o.ready(addr)
	}

	// Background: the state file's utilisation, and vLLM's periodic stats.
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		var last snapshot
		lastLog := time.Now()
		for {
			select {
			case <-engCtx.Done():
				return
			case now := <-tick.C:
				u := eng.utilPercent(now)
				state.update(func(s *simgpu.ServerState) { s.UtilPercent = u })
				if o.DisableLogStats || now.Sub(lastLog) < 5*time.Second {
					continue
				}
				cur := eng.snapshot()
				dt := now.Sub(lastLog).Seconds()
				promptTP := float64(cur.m.promptTokens-last.m.promptTokens) / dt
				genTP := float64(cur.m.genTokens-last.m.genTokens) / dt
				if promptTP > 0 || genTP > 0 || cur.running > 0 || cur.waiting > 0 {
					log.info(procAPI, "loggers.py:123", "Engine 000: Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f tokens/s, Running: %d reqs, Waiting: %d reqs, GPU KV cache usage: %.1f%%, Prefix cache hit rate: %.1f%%",
						promptTP, genTP, cur.running, cur.waiting, 100*cur.usage, 100*cur.hitRate)
				}
				last, lastLog = cur, now
			}
		}
	}()

	code := 0
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.error(procAPI, "api_server.py:1979", "HTTP server failed: %v", err)
		code = 1
	}
	log.info(procAPI, "launcher.py:80", "Shutting down FastAPI HTTP server.")
	state.update(func(s *simgpu.ServerState) { s.Phase = "stopping" })
	stopEngine() // in-flight requests are aborted, as vLLM does on SIGTERM
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(shutCtx)
	<-bgDone
	if err := state.remove(); err != nil {
		log.warn(procAPI, "sim.go:2", "removing GPU state file: %v", err)
	}
	return code
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// printMemory is `sim serve --print-memory`: vLLM's startup numbers for this
// model, GPU and flags, computed by the same model the server uses, as a
// short report. It returns 1 when the length does not fit, as vLLM would.
func printMemory(w io.Writer, model string, g simgpu.GPU, p modelcfg.Prediction) int {
	fmt.Fprintf(w, "memory plan (SIMULATED, runexp's model of vLLM V1): %s on %s (%.2f GiB), --gpu-memory-utilization %.2f, --max-model-len %d\n",
		model, g.Name, gibs(int64(g.MemoryBytes)), p.GPUMemoryUtilization, p.MaxModelLen)
	fmt.Fprintf(w, "  weights %.2f GiB, activation peak %.2f GiB, non-torch %.2f GiB, CUDA graphs %.2f GiB\n",
		gibs(p.WeightsBytes), gibs(p.ActivationPeakBytes), gibs(p.NonTorchBytes), gibs(p.CUDAGraphBytes))
	fmt.Fprintf(w, "  Available KV cache memory: %.2f GiB (%d bytes per token)\n", gibs(p.KVPoolBytes), p.KVBytesPerToken)
	if !p.Fits {
		fmt.Fprintf(w, "  does not fit: %s\n", p.Failure)
		return 1
	}
	fmt.Fprintf(w, "  GPU KV cache size: %s tokens\n", commas(p.KVTokens))
	fmt.Fprintf(w, "  Maximum concurrency for %s tokens per request: %.2fx\n", commas(int64(p.MaxModelLen)), p.EngineConcurrency)
	fmt.Fprintf(w, "  expected device memory used: %.2f GiB\n", gibs(p.ExpectedUsedBytes))
	fmt.Fprintf(w, "  %s\n", p.Formula)
	return 0
}

// visibleGPU is the simulated GPU the server runs on: the first entry of
// CUDA_VISIBLE_DEVICES, as vLLM's device 0 is, or GPU 0.
func visibleGPU() int {
	first, _, _ := strings.Cut(os.Getenv("CUDA_VISIBLE_DEVICES"), ",")
	i, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || i < 0 {
		return 0
	}
	return i
}
