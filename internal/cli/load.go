package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/load"
)

// extraFlag is --extra key=value: a request body field, parsed as JSON when
// it is JSON.
type extraFlag map[string]any

func (e extraFlag) String() string { return "" }
func (e extraFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	var x any
	if err := json.Unmarshal([]byte(v), &x); err != nil {
		x = v // not JSON: a plain string
	}
	e[k] = x
	return nil
}

// metadataFlag is --metadata KEY=VALUE (repeatable), kept in order as vLLM
// writes them into its result file.
type metadataFlag [][2]string

func (m *metadataFlag) String() string { return "" }
func (m *metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	*m = append(*m, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	return nil
}

// rateFlag is --request-rate: requests per second, or inf (every request
// at once, as vLLM's default).
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }
func (r *rateFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) {
		return fmt.Errorf("want requests per second > 0 or inf, got %q", s)
	}
	*r = rateFlag(v)
	return nil
}

// datasetFlags are the flags of one dataset, with the datasets they apply to.
var datasetFlags = []struct {
	flag     string
	datasets []load.DatasetName
}{
	{"random-input-len", []load.DatasetName{load.DatasetRandom}},
	{"random-output-len", []load.DatasetName{load.DatasetRandom}},
	{"random-range-ratio", []load.DatasetName{load.DatasetRandom}},
	{"random-prefix-len", []load.DatasetName{load.DatasetRandom}},
	{"sharegpt-output-len", []load.DatasetName{load.DatasetShareGPT}},
	{"custom-output-len", []load.DatasetName{load.DatasetJSONL, load.DatasetCustom}},
	{"prefix-repetition-prefix-len", []load.DatasetName{load.DatasetSharedPrefix}},
	{"prefix-repetition-suffix-len", []load.DatasetName{load.DatasetSharedPrefix}},
	{"prefix-repetition-num-prefixes", []load.DatasetName{load.DatasetSharedPrefix}},
	{"prefix-repetition-output-len", []load.DatasetName{load.DatasetSharedPrefix}},
	{"trace-time-scale", []load.DatasetName{load.DatasetTrace}},
	{"multi-turn-turns", []load.DatasetName{load.DatasetMultiTurn}},
	{"multi-turn-input-len", []load.DatasetName{load.DatasetMultiTurn}},
	{"multi-turn-output-len", []load.DatasetName{load.DatasetMultiTurn}},
	{"multi-turn-think-time", []load.DatasetName{load.DatasetMultiTurn}},
	{"multi-turn-think", []load.DatasetName{load.DatasetMultiTurn}},
}

func finiteRateFlag(r rateFlag) bool { return !math.IsInf(float64(r), 1) }

// errThreshold is returned when a mode failed more requests than its error
// threshold allows (each mode already reported).
var errThreshold = exitcode.Reported(errors.New("error threshold exceeded"))

// endpointAPIs maps vLLM's --endpoint values to the APIs.
var endpointAPIs = map[string]load.API{
	"/v1/completions":      load.APICompletions,
	"/v1/chat/completions": load.APIChat,
}

// cmdLoad is `runexp load`: it builds a load.Config from flags, runs it and
// prints one summary column per mode (or JSON with --json) to stdout. It
// takes runexp's flags (--url, --mode, --requests, --concurrency, --rate)
// and `vllm bench serve`'s with vLLM's meaning (--base-url, --endpoint,
// --num-prompts, --request-rate, --burstiness, --max-concurrency,
// --save-result, ...). Exit 1 when a mode exceeded its error threshold, 2
// for bad flags or configuration, 130 when interrupted (in-flight requests
// are then canceled, not failed). Example:
//
//	runexp load --url http://127.0.0.1:8000 --model M --mode sequential,concurrent \
//	    --requests 32 --concurrency 32 --max-tokens 32
//	runexp load --base-url http://127.0.0.1:8000 --model M --num-prompts 200 \
//	    --request-rate 10 --burstiness 0.5 --max-concurrency 16 --save-result
func cmdLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setHelp(fs, "runexp load --url URL --model MODEL [flags]", "Sends OpenAI-compatible requests to a running server and prints each mode's\nsummary. Takes vllm bench serve's flags with vLLM's meaning (--base-url,\n--num-prompts, --request-rate, --max-concurrency, --save-result, ...).")
	var (
		url         string
		requests    int
		rate        = rateFlag(math.Inf(1))
		model       = fs.String("model", "", "model name sent in requests (required)")
		api         = fs.String("api", string(load.APICompletions), "API: completions | chat")
		endpoint    = fs.String("endpoint", "", "vLLM's form of --api: /v1/completions or /v1/chat/completions")
		modes       = fs.String("mode", string(load.KindConcurrent), "comma-separated modes run in order: sequential, concurrent, rate (default: from --request-rate)")
		concurrency = fs.Int("concurrency", 0, "concurrent mode: requests in flight (default: --max-concurrency, else --requests)")
		rateOld     = fs.Float64("rate", 0, "rate mode: requests per second")
		arrival     = fs.String("arrival", string(load.ArrivalConstant), "rate mode: constant | poisson")
		burstiness  = fs.Float64("burstiness", 1, "poisson arrivals: gamma shape, as vLLM (1 = Poisson, < 1 burstier, > 1 more even)")
		maxConc     = fs.Int("max-concurrency", 0, "most requests in flight; more wait for a slot, as in vLLM (0: no limit)")
		seed        = fs.Int64("seed", 0, "seed of the arrival schedule, synthetic prompts and --dataset-name sampling")
		duration    = fs.Duration("duration", 0, "mode length: rate schedule length, or stop issuing after it")
		maxInFlight = fs.Int("max-in-flight", 0, "rate mode: cap on requests in flight; more are dropped (default 1024)")
		maxTokens   = fs.Int("max-tokens", load.DefaultMaxTokens, "max_tokens per request")
		stream      = fs.Bool("stream", true, "stream responses (SSE) and measure TTFT/ITL (the default, as vLLM)")
		noStream    = fs.Bool("no-stream", false, "do not stream: TTFT, TPOT and ITL are then n/a")
		asJSON      = fs.Bool("json", false, "print the summaries as JSON")
		prompt      = fs.String("prompt", "", "fixed prompt (default: the seed's prompt)")
		promptFile  = fs.String("prompt-file", "", "prompt file: one prompt per line or JSONL {\"prompt\":...}")
		promptToks  = fs.Int("prompt-tokens", 0, "synthetic prompts of about this many tokens")
		warmup      = fs.Int("warmup", 0, "unrecorded requests before each mode")
		timeout     = fs.Duration("timeout", load.DefaultRequestTimeout, "per-request timeout (whole stream)")
		keyEnv      = fs.String("api-key-env", "", "name of the environment variable holding the API key")
		threshold   = fs.Float64("error-threshold", 0, "tolerated fraction of failed requests per mode")
		ignoreEOS   = fs.Bool("ignore-eos", false, "send ignore_eos=true (vLLM/llama.cpp: always max_tokens tokens)")
		out         = fs.String("requests-out", "", "write every measured request as JSON lines to this file")
		saveResult  = fs.Bool("save-result", false, "save each mode's result as vllm bench serve's JSON file")
		resultDir   = fs.String("result-dir", "", "folder of --save-result files (default: the current folder)")
		resultFile  = fs.String("result-filename", "", "name of the --save-result file (default: vLLM's {label}-{rate}qps[-concurrency{n}]-{model}-{date}.json)")
		label       = fs.String("label", "", "--save-result: the result's label (default: the backend, openai or openai-chat)")
		pctMetrics  = fs.String("percentile-metrics", "ttft,tpot,itl", "metrics with percentiles in the result file and the console: ttft, tpot, itl, e2el")
		pcts        = fs.String("metric-percentiles", "99", "percentiles of those metrics, e.g. 50,90,95,99")
		noProgress  = fs.Bool("no-progress", false, "no progress line on stderr while a mode runs")
		metricsPath = fs.String("metrics", "", "the server's Prometheus path (vLLM: /metrics), scraped around each mode for the prefix-cache hit rate")
		dsName      = fs.String("dataset-name", "", "requests from a dataset, as vLLM: random, sharegpt, jsonl (custom), trace, shared_prefix (default: --prompt/--prompt-file)")
		dsPath      = fs.String("dataset-path", "", "sharegpt, jsonl, trace: the dataset file")
		tokFile     = fs.String("tokenizer", "", "a Hugging Face tokenizer.json: dataset prompt lengths counted with it, offline, instead of on the server (vLLM's --tokenizer)")
		randIn      = fs.Int("random-input-len", 0, "random: prompt tokens after the prefix, as the server counts them (default 1024)")
		randOut     = fs.Int("random-output-len", 0, "random: max_tokens (default 128)")
		randRatio   = fs.Float64("random-range-ratio", 0, "random: lengths uniform within [len x (1-r), len x (1+r)], r in [0, 1)")
		randPrefix  = fs.Int("random-prefix-len", 0, "random: tokens of a prefix shared by every prompt")
		sgptOut     = fs.Int("sharegpt-output-len", 0, "sharegpt: max_tokens instead of each answer's length")
		customOut   = fs.Int("custom-output-len", 0, "jsonl: max_tokens instead of each line's output_len")
		prefixLen   = fs.Int("prefix-repetition-prefix-len", 0, "shared_prefix: tokens of each group's system prompt")
		suffixLen   = fs.Int("prefix-repetition-suffix-len", 0, "shared_prefix: tokens of each question")
		numPrefixes = fs.Int("prefix-repetition-num-prefixes", 0, "shared_prefix: number of groups (distinct prefixes, default 1)")
		prefixOut   = fs.Int("prefix-repetition-output-len", 0, "shared_prefix: max_tokens")
		timeScale   = fs.Float64("trace-time-scale", 0, "trace: multiplies the trace's send offsets (default 1)")
		mtTurns     = fs.Int("multi-turn-turns", 0, "multi_turn: turns per session (default 4); a mode of N requests runs N/turns sessions")
		mtInput     = fs.Int("multi-turn-input-len", 0, "multi_turn: tokens of each user turn")
		mtOutput    = fs.Int("multi-turn-output-len", 0, "multi_turn: max_tokens of each turn")
		mtThink     = fs.Duration("multi-turn-think-time", 0, "multi_turn: pause between a session's turns")
		mtDist      = fs.String("multi-turn-think", "", "multi_turn: fixed (default) or exponential think times")
		extra       = extraFlag{}
		metadata    metadataFlag
	)
	fs.StringVar(&url, "url", "", "server base URL, e.g. http://127.0.0.1:8000 or 127.0.0.1:8000 (a trailing /v1 is dropped) (required)")
	fs.StringVar(&url, "base-url", "", "vLLM's name of --url")
	fs.IntVar(&requests, "requests", 32, "requests per mode (0 with --duration: until the duration ends)")
	fs.IntVar(&requests, "num-prompts", 32, "vLLM's name of --requests")
	fs.Var(&rate, "request-rate", "requests per second, or inf: every request at once (limited by --max-concurrency), as vLLM")
	fs.Var(extra, "extra", "extra body field key=value (value parsed as JSON if it is JSON); repeatable")
	fs.Var(&metadata, "metadata", "KEY=VALUE written into --save-result files, as vLLM; repeatable")
	var goodput []string
	fs.Func("goodput", "per-request SLOs in ms, as vLLM: --goodput ttft:500 tpot:50 e2el:5000; adds request_goodput and slo_attainment", func(v string) error {
		goodput = append(goodput, v)
		return nil
	})
	if err := parseFlags(fs, joinGoodput(args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitcode.UsageError(fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var slo *load.SLO
	if set["goodput"] {
		var err error
		if slo, err = load.ParseGoodput(goodput); err != nil {
			return exitcode.UsageError(err)
		}
	}

	if *endpoint != "" {
		a, ok := endpointAPIs[strings.TrimRight(*endpoint, "/")]
		if !ok {
			return exitcode.UsageError(fmt.Errorf("--endpoint %q: want /v1/completions or /v1/chat/completions", *endpoint))
		}
		if set["api"] && load.API(*api) != a {
			return exitcode.UsageError(fmt.Errorf("--endpoint %s contradicts --api %s", *endpoint, *api))
		}
		*api = string(a)
	}
	metrics, percentiles, err := percentileFlags(*pctMetrics, *pcts)
	if err != nil {
		return exitcode.UsageError(err)
	}
	cfg := load.Config{
		BaseURL: load.NormalizeBaseURL(url), API: load.API(*api), Model: *model, Stream: *stream && !*noStream, MaxTokens: *maxTokens,
		Prompts:        load.Prompts{Fixed: *prompt, File: *promptFile, SyntheticTokens: *promptToks, Seed: *seed},
		Warmup:         *warmup,
		RequestTimeout: *timeout,
		ErrorThreshold: *threshold,
		SLO:            slo,
	}
	if len(extra) > 0 {
		cfg.Extra = extra
	}
	cfg.MetricsPath = *metricsPath
	if *dsName != "" {
		cfg.Dataset = &load.Dataset{Name: load.DatasetName(*dsName), Path: *dsPath, Seed: *seed, TimeScale: *timeScale}
		d := cfg.Dataset
		if (set["requests"] || set["num-prompts"]) && d.Name != load.DatasetMultiTurn {
			d.NumPrompts = requests // multi_turn: sessions follow from requests / turns
		}
		switch load.DatasetName(*dsName) {
		case load.DatasetRandom:
			d.InputLen, d.OutputLen, d.RangeRatio, d.PrefixLen = *randIn, *randOut, *randRatio, *randPrefix
		case load.DatasetShareGPT:
			d.OutputLen = *sgptOut
		case load.DatasetJSONL, load.DatasetCustom:
			d.OutputLen = *customOut
		case load.DatasetSharedPrefix:
			d.PrefixLen, d.InputLen, d.Groups, d.OutputLen = *prefixLen, *suffixLen, *numPrefixes, *prefixOut
		case load.DatasetMultiTurn:
			d.Turns, d.InputLen, d.OutputLen, d.ThinkTime, d.Think = *mtTurns, *mtInput, *mtOutput, *mtThink, load.ThinkTime(*mtDist)
		}
		for _, f := range datasetFlags {
			if set[f.flag] && !slices.Contains(f.datasets, d.Name) {
				return exitcode.UsageError(fmt.Errorf("--%s applies to --dataset-name %s", f.flag, f.datasets[0]))
			}
		}
		if d.Name == load.DatasetTrace && !set["mode"] && !finiteRateFlag(rate) {
			*modes = string(load.KindReplay) // a trace brings its own send times
		}
		if *tokFile != "" {
			// Loaded now for a usage error; PrepareRequests finds it loaded.
			if _, err := load.TokenizerCounter(*tokFile); err != nil {
				return exitcode.UsageError(fmt.Errorf("--tokenizer: %w", err))
			}
			d.Tokenizer = load.TokenizerFile(*tokFile)
		}
	} else if *dsPath != "" {
		return exitcode.UsageError(errors.New("--dataset-path needs --dataset-name"))
	} else if *tokFile != "" {
		return exitcode.UsageError(errors.New("--tokenizer needs --dataset-name (it counts a dataset's prompt lengths)"))
	}
	if *ignoreEOS {
		if cfg.Extra == nil {
			cfg.Extra = map[string]any{}
		}
		cfg.Extra["ignore_eos"] = true
	}
	if *keyEnv != "" {
		cfg.APIKey = os.Getenv(*keyEnv)
		if cfg.APIKey == "" {
			return exitcode.UsageError(fmt.Errorf("--api-key-env: $%s is empty or unset", *keyEnv))
		}
	}
	if *maxConc < 0 {
		return exitcode.UsageError(fmt.Errorf("--max-concurrency %d must be >= 0", *maxConc))
	}
	n := requests
	if set["duration"] && !set["requests"] && !set["num-prompts"] {
		n = 0
	}
	if cfg.Dataset != nil && cfg.Dataset.Name == load.DatasetTrace && !set["requests"] && !set["num-prompts"] {
		n = 0 // replay the whole trace
	}
	kinds := *modes
	finiteRate := !math.IsInf(float64(rate), 1)
	if !set["mode"] && finiteRate {
		kinds = string(load.KindRate) // vLLM: a finite --request-rate is an open loop
	}
	if set["mode"] && !slices.Contains(strings.Split(strings.ReplaceAll(kinds, " ", ""), ","), string(load.KindRate)) {
		for _, f := range []string{"request-rate", "burstiness"} {
			if set[f] && (f != "request-rate" || finiteRate) {
				return exitcode.UsageError(fmt.Errorf("--%s applies to a rate mode, and --mode %s has none", f, kinds))
			}
		}
	}
	for _, k := range strings.Split(kinds, ",") {
		m := load.Mode{Kind: load.ModeKind(strings.TrimSpace(k)), Requests: n, Duration: *duration}
		switch m.Kind {
		case load.KindConcurrent:
			// An infinite rate sends every request at once; vLLM's
			// semaphore then holds all but --max-concurrency of them:
			// a closed loop of that many workers.
			m.Concurrency = *concurrency
			if m.Concurrency == 0 {
				m.Concurrency = *maxConc
			}
			if m.Concurrency == 0 {
				m.Concurrency = n
			}
		case load.KindReplay:
			m.MaxInFlight = *maxInFlight
			if *maxConc > 0 {
				m.MaxInFlight, m.WaitForSlot = *maxConc, true
			}
		case load.KindRate:
			m.Rate, m.Arrival, m.Seed, m.MaxInFlight = *rateOld, load.Arrival(*arrival), *seed, *maxInFlight
			if finiteRate {
				m.Rate = float64(rate)
				if !set["arrival"] {
					m.Arrival = load.ArrivalPoisson // vLLM's arrivals
				}
			}
			if set["burstiness"] {
				m.Burstiness = *burstiness
			}
			switch {
			case *maxConc > 0:
				m.MaxInFlight, m.WaitForSlot = *maxConc, true
			case finiteRate && !set["max-in-flight"]:
				m.WaitForSlot = true // vLLM never drops a request
			}
		}
		cfg.Modes = append(cfg.Modes, m)
	}
	if err := cfg.Validate(); err != nil {
		return exitcode.UsageError(fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  ")))
	}
	if cfg.Dataset == nil {
		if _, err := cfg.Prompts.Load(); err != nil {
			return exitcode.UsageError(fmt.Errorf("prompts: %w", err))
		}
	} else {
		reqs, note, err := load.PrepareRequests(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return exitcode.Reported(err)
		}
		cfg.Prepared = reqs
		fmt.Fprintf(stderr, "load: %s\n", note)
	}

	if !*noProgress {
		redraw := isTerminal(stderr)
		cfg.OnProgress = load.ProgressPrinter(stderr, redraw)
		cfg.ProgressInterval = progressEveryLine
		if redraw {
			cfg.ProgressInterval = progressEveryRedraw
		}
	}

	// The results of each mode are kept for percentiles and result files.
	byMode := map[string][]load.RequestResult{}
	keep := *saveResult || set["percentile-metrics"] || set["metric-percentiles"]
	var jw *bufio.Writer
	var enc *json.Encoder
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return exitcode.UsageError(err)
		}
		defer f.Close()
		jw = bufio.NewWriterSize(f, 64<<10)
		enc = json.NewEncoder(jw)
	}
	var onResult func(load.RequestResult)
	if enc != nil || keep {
		onResult = func(r load.RequestResult) {
			if enc != nil {
				enc.Encode(r)
			}
			if keep {
				r.ITLms = append([]float64(nil), r.ITLms...) // the engine keeps the original
				byMode[r.Mode] = append(byMode[r.Mode], r)
			}
		}
	}
	start := time.Now()
	sums, runErr := load.Run(ctx, cfg, onResult)
	if jw != nil {
		if ferr := jw.Flush(); ferr != nil {
			fmt.Fprintf(stderr, "load: %s: %v\n", *out, ferr)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sums)
	} else {
		load.WriteTable(stdout, sums)
		if set["percentile-metrics"] || set["metric-percentiles"] {
			fmt.Fprintln(stdout)
			writePercentiles(stdout, sums, byMode, metrics, percentiles)
		}
		fmt.Fprintf(stdout, "\nwall time %.3fs\n", time.Since(start).Seconds())
	}
	var result error
	for _, s := range sums {
		if s.ThresholdExceeded {
			result = errThreshold
		}
		writeFailures(stderr, s, cfg.ErrorThreshold)
	}
	if ctx.Err() != nil {
		said := false
		for _, s := range sums {
			if s.Interrupted {
				fmt.Fprintf(stderr, "load: interrupted during mode %s: %d requests in flight were canceled (not counted as failures); its summary covers the %d requests that ended before\n",
					s.Mode, s.Canceled, s.Completed+s.Failed)
				said = true
			}
		}
		if !said {
			fmt.Fprintf(stderr, "load: interrupted after %d of %d modes\n", len(sums), len(cfg.Modes))
		}
		if *saveResult {
			fmt.Fprintln(stderr, "load: interrupted: no --save-result file written (its figures would read as a whole run)")
		}
		return exitcode.Reported(exitcode.ErrInterrupted)
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "load: %v\n", runErr)
		return exitcode.Reported(runErr)
	}
	if *saveResult {
		info := load.BenchInfo{
			Date: time.Now().Format("20060102-150405"), Backend: "openai", Label: *label, ModelID: *model,
			NumPrompts: requests, RequestRate: float64(rate), Burstiness: *burstiness, MaxConcurrency: *maxConc,
			Metadata: metadata, PercentileMetrics: metrics, MetricPercentiles: percentiles,
		}
		if cfg.API == load.APIChat {
			info.Backend = "openai-chat"
		}
		for _, s := range sums {
			path := resultPath(info, *resultDir, *resultFile, s.Mode, len(sums) > 1)
			if err := saveBenchResult(path, info, s, byMode[s.Mode]); err != nil {
				fmt.Fprintf(stderr, "load: --save-result: %v\n", err)
				return exitcode.Reported(err)
			}
			fmt.Fprintf(stderr, "load: mode %s saved to %s\n", s.Mode, path)
		}
	}
	return result
}

// How often `runexp load` reports progress on stderr: a terminal line is
// redrawn often; a log (CI) gets a plain line now and then.
var (
	progressEveryRedraw = 250 * time.Millisecond
	progressEveryLine   = 5 * time.Second
)

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// percentileFlags parses --percentile-metrics and --metric-percentiles.
func percentileFlags(metricList, percentileList string) ([]string, []float64, error) {
	var metrics []string
	for _, m := range strings.Split(metricList, ",") {
		m = strings.TrimSpace(m)
		known := false
		for _, k := range load.Metrics {
			known = known || k == m
		}
		if !known {
			return nil, nil, fmt.Errorf("--percentile-metrics: %q is not one of %s", m, strings.Join(load.Metrics, ", "))
		}
		metrics = append(metrics, m)
	}
	var ps []float64
	for _, p := range strings.Split(percentileList, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 {
			return nil, nil, fmt.Errorf("--metric-percentiles: %q is not a percentile within [0, 100]", p)
		}
		ps = append(ps, v)
	}
	return metrics, ps, nil
}

// writePercentiles prints the chosen percentiles of the chosen metrics,
// one column per mode; a metric without samples prints n/a.
func writePercentiles(w io.Writer, sums []load.Summary, byMode map[string][]load.RequestResult, metrics []string, ps []float64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "percentile\t")
	samples := make([]map[string][]float64, len(sums))
	for i, s := range sums {
		fmt.Fprintf(tw, "%s\t", s.Mode)
		samples[i] = load.MetricSamples(byMode[s.Mode])
	}
	fmt.Fprintln(tw)
	for _, m := range metrics {
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t", load.PercentileKey(p, m))
			for i := range sums {
				cell := "n/a"
				if x := samples[i][m]; len(x) > 0 {
					cell = strconv.FormatFloat(load.Percentile(x, p), 'f', 3, 64)
				}
				fmt.Fprintf(tw, "%s\t", cell)
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
}

// writeFailures reports a mode's failed requests, above its error
// threshold or not, with the first distinct messages of each class (a
// server's "model does not exist"), so nobody has to open --requests-out to
// learn why.
func writeFailures(w io.Writer, s load.Summary, threshold float64) {
	if s.Failed == 0 {
		return
	}
	fmt.Fprintf(w, "load: mode %s: %d of %d requests failed (%s)", s.Mode, s.Failed, s.Completed+s.Failed, load.ClassCounts(s.ErrorsByClass))
	if s.ThresholdExceeded {
		fmt.Fprintf(w, ", above the error threshold %v", threshold)
	}
	fmt.Fprintln(w)
	classes := make([]string, 0, len(s.ErrorsByClass))
	for c := range s.ErrorsByClass {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	for _, c := range classes {
		for _, msg := range s.ErrorMessages[c] {
			fmt.Fprintf(w, "  %s: %s\n", c, msg)
		}
	}
}

// resultPath names a --save-result file as vLLM does
// ({label}-{rate}qps[-concurrency{n}]-{model basename}-{date}.json, or
// --result-filename, inside --result-dir); with several modes each file
// gets -<mode> before .json.
func resultPath(info load.BenchInfo, dir, name, mode string, several bool) string {
	if name == "" {
		label := info.Label
		if label == "" {
			label = info.Backend
		}
		conc := ""
		if info.MaxConcurrency > 0 {
			conc = "-concurrency" + strconv.Itoa(info.MaxConcurrency)
		}
		name = fmt.Sprintf("%s-%sqps%s-%s-%s.json", label, pythonFloat(info.RequestRate), conc,
			info.ModelID[strings.LastIndex(info.ModelID, "/")+1:], info.Date)
	}
	if several {
		ext := filepath.Ext(name)
		name = strings.TrimSuffix(name, ext) + "-" + mode + ext
	}
	return filepath.Join(dir, name)
}

// pythonFloat formats a float as Python's str does in vLLM's file names:
// inf, 10.0, 2.5.
func pythonFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e16:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func saveBenchResult(path string, info load.BenchInfo, s load.Summary, rs []load.RequestResult) error {
	data, err := load.BenchResult(info, s, rs)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, data, 0o644)
}

// joinGoodput lets --goodput take several values as vLLM's does
// (`--goodput ttft:500 tpot:50`): the KEY:MS arguments after it join its
// value, which the flag package would otherwise take as positional.
func joinGoodput(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a != "--goodput" && a != "-goodput" {
			out = append(out, a)
			continue
		}
		var vals []string
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && strings.Contains(args[i+1], ":") {
			i++
			vals = append(vals, args[i])
		}
		if len(vals) == 0 {
			out = append(out, a) // the flag package reports the missing value
			continue
		}
		out = append(out, a+"="+strings.Join(vals, " "))
	}
	return out
}
