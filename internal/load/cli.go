package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Exit codes of RunCLI.
const (
	ExitOK        = 0
	ExitThreshold = 1 // a mode exceeded the error threshold, or the run was interrupted
	ExitUsage     = 2 // bad flags or configuration
)

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

// RunCLI implements `runexp load`: it builds a Config from flags, runs it and
// prints one summary column per mode (or JSON with --json) to stdout.
// It returns ExitOK, ExitThreshold or ExitUsage. Example:
//
//	runexp load --url http://127.0.0.1:8000 --model M --mode sequential,concurrent \
//	    --requests 32 --concurrency 32 --max-tokens 32 --stream
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		url         = fs.String("url", "", "server base URL without /v1, e.g. http://127.0.0.1:8000 (required)")
		model       = fs.String("model", "", "model name sent in requests (required)")
		api         = fs.String("api", string(APICompletions), "API: completions | chat")
		modes       = fs.String("mode", string(KindConcurrent), "comma-separated modes run in order: sequential, concurrent, rate")
		requests    = fs.Int("requests", 32, "requests per mode (0 with --duration: until the duration ends)")
		concurrency = fs.Int("concurrency", 0, "concurrent mode: requests in flight (default: --requests)")
		rate        = fs.Float64("rate", 0, "rate mode: requests per second")
		arrival     = fs.String("arrival", string(ArrivalConstant), "rate mode: constant | poisson")
		seed        = fs.Int64("seed", 0, "seed of the poisson schedule and synthetic prompts")
		duration    = fs.Duration("duration", 0, "mode length: rate schedule length, or stop issuing after it")
		maxInFlight = fs.Int("max-in-flight", 0, "rate mode: cap on requests in flight; more are dropped (default 1024)")
		maxTokens   = fs.Int("max-tokens", DefaultMaxTokens, "max_tokens per request")
		stream      = fs.Bool("stream", false, "stream responses (SSE) and measure TTFT/ITL")
		asJSON      = fs.Bool("json", false, "print the summaries as JSON")
		prompt      = fs.String("prompt", "", "fixed prompt (default: the seed's prompt)")
		promptFile  = fs.String("prompt-file", "", "prompt file: one prompt per line or JSONL {\"prompt\":...}")
		promptToks  = fs.Int("prompt-tokens", 0, "synthetic prompts of about this many tokens")
		warmup      = fs.Int("warmup", 0, "unrecorded requests before each mode")
		timeout     = fs.Duration("timeout", DefaultRequestTimeout, "per-request timeout (whole stream)")
		keyEnv      = fs.String("api-key-env", "", "name of the environment variable holding the API key")
		threshold   = fs.Float64("error-threshold", 0, "tolerated fraction of failed requests per mode")
		ignoreEOS   = fs.Bool("ignore-eos", false, "send ignore_eos=true (vLLM/llama.cpp: always max_tokens tokens)")
		out         = fs.String("requests-out", "", "write every measured request as JSON lines to this file")
		extra       = extraFlag{}
	)
	fs.Var(extra, "extra", "extra body field key=value (value parsed as JSON if it is JSON); repeatable")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "load: unexpected arguments: %q\n", fs.Args())
		return ExitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := Config{
		BaseURL: *url, API: API(*api), Model: *model, Stream: *stream, MaxTokens: *maxTokens,
		Prompts:        Prompts{Fixed: *prompt, File: *promptFile, SyntheticTokens: *promptToks, Seed: *seed},
		Warmup:         *warmup,
		RequestTimeout: *timeout,
		ErrorThreshold: *threshold,
	}
	if len(extra) > 0 {
		cfg.Extra = extra
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
			fmt.Fprintf(stderr, "load: --api-key-env: $%s is empty or unset\n", *keyEnv)
			return ExitUsage
		}
	}
	n := *requests
	if set["duration"] && !set["requests"] {
		n = 0
	}
	for _, k := range strings.Split(*modes, ",") {
		m := Mode{Kind: ModeKind(strings.TrimSpace(k)), Requests: n, Duration: *duration}
		switch m.Kind {
		case KindConcurrent:
			m.Concurrency = *concurrency
			if m.Concurrency == 0 {
				m.Concurrency = n
			}
		case KindRate:
			m.Rate, m.Arrival, m.Seed, m.MaxInFlight = *rate, Arrival(*arrival), *seed, *maxInFlight
		}
		cfg.Modes = append(cfg.Modes, m)
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "load: invalid configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return ExitUsage
	}
	if _, err := cfg.Prompts.Load(); err != nil {
		fmt.Fprintf(stderr, "load: prompts: %v\n", err)
		return ExitUsage
	}

	var onResult func(RequestResult)
	var jw *bufio.Writer
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return ExitUsage
		}
		defer f.Close()
		jw = bufio.NewWriterSize(f, 64<<10)
		enc := json.NewEncoder(jw)
		onResult = func(r RequestResult) { enc.Encode(r) }
	}
	start := time.Now()
	sums, err := Run(ctx, cfg, onResult)
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
		WriteTable(stdout, sums)
		fmt.Fprintf(stdout, "\nwall time %.3fs\n", time.Since(start).Seconds())
	}
	code := ExitOK
	for _, s := range sums {
		if s.ThresholdExceeded {
			fmt.Fprintf(stderr, "load: mode %s: %d of %d requests failed (%v), above the error threshold %v\n",
				s.Mode, s.Failed, s.Completed+s.Failed, classCounts(s.ErrorsByClass), cfg.ErrorThreshold)
			code = ExitThreshold
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		code = ExitThreshold
	}
	return code
}

func classCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}

// tableRows are the summary fields WriteTable prints, in order.
var tableRows = []string{
	"kind", "completed", "failed", "dropped", "duration",
	"total_input_tokens", "total_output_tokens",
	"request_throughput", "output_throughput", "total_token_throughput",
	"mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms", "n_ttft",
	"mean_tpot_ms", "median_tpot_ms", "p90_tpot_ms", "p99_tpot_ms", "n_tpot",
	"mean_itl_ms", "median_itl_ms", "p90_itl_ms", "p99_itl_ms", "n_itl",
	"mean_e2el_ms", "median_e2el_ms", "p90_e2el_ms", "p99_e2el_ms", "n_e2el",
	"max_concurrent_requests", "lag_p50_ms", "lag_p99_ms",
	"tokens_source", "finish_reasons", "errors_by_class", "threshold_exceeded",
}

// WriteTable prints summaries as an aligned table, one column per mode.
func WriteTable(w io.Writer, sums []Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "mode\t")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t", s.Mode)
	}
	fmt.Fprintln(tw)
	vals := make([]map[string]any, len(sums))
	for i, s := range sums {
		vals[i] = s.Values()
	}
	for _, k := range tableRows {
		fmt.Fprintf(tw, "%s\t", k)
		for i, s := range sums {
			var cell string
			switch k {
			case "finish_reasons":
				cell = classCounts(s.FinishReasons)
			case "errors_by_class":
				cell = classCounts(s.ErrorsByClass)
			default:
				switch v := vals[i][k].(type) {
				case float64:
					cell = strconv.FormatFloat(v, 'f', 3, 64)
				default:
					cell = fmt.Sprint(v)
				}
			}
			if cell == "" {
				cell = "-"
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
