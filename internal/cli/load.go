package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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

// errThreshold is returned when a mode failed more requests than its error
// threshold allows (each mode already reported).
var errThreshold = exitcode.Reported(errors.New("error threshold exceeded"))

// cmdLoad is `runexp load`: it builds a load.Config from flags, runs it and
// prints one summary column per mode (or JSON with --json) to stdout. Exit
// 1 when a mode exceeded its error threshold, 2 for bad flags or
// configuration, 130 when interrupted. Example:
//
//	runexp load --url http://127.0.0.1:8000 --model M --mode sequential,concurrent \
//	    --requests 32 --concurrency 32 --max-tokens 32 --stream
func cmdLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		url         = fs.String("url", "", "server base URL without /v1, e.g. http://127.0.0.1:8000 (required)")
		model       = fs.String("model", "", "model name sent in requests (required)")
		api         = fs.String("api", string(load.APICompletions), "API: completions | chat")
		modes       = fs.String("mode", string(load.KindConcurrent), "comma-separated modes run in order: sequential, concurrent, rate")
		requests    = fs.Int("requests", 32, "requests per mode (0 with --duration: until the duration ends)")
		concurrency = fs.Int("concurrency", 0, "concurrent mode: requests in flight (default: --requests)")
		rate        = fs.Float64("rate", 0, "rate mode: requests per second")
		arrival     = fs.String("arrival", string(load.ArrivalConstant), "rate mode: constant | poisson")
		seed        = fs.Int64("seed", 0, "seed of the poisson schedule and synthetic prompts")
		duration    = fs.Duration("duration", 0, "mode length: rate schedule length, or stop issuing after it")
		maxInFlight = fs.Int("max-in-flight", 0, "rate mode: cap on requests in flight; more are dropped (default 1024)")
		maxTokens   = fs.Int("max-tokens", load.DefaultMaxTokens, "max_tokens per request")
		stream      = fs.Bool("stream", false, "stream responses (SSE) and measure TTFT/ITL")
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
		extra       = extraFlag{}
	)
	fs.Var(extra, "extra", "extra body field key=value (value parsed as JSON if it is JSON); repeatable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitcode.UsageError(fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := load.Config{
		BaseURL: *url, API: load.API(*api), Model: *model, Stream: *stream, MaxTokens: *maxTokens,
		Prompts:        load.Prompts{Fixed: *prompt, File: *promptFile, SyntheticTokens: *promptToks, Seed: *seed},
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
			return exitcode.UsageError(fmt.Errorf("--api-key-env: $%s is empty or unset", *keyEnv))
		}
	}
	n := *requests
	if set["duration"] && !set["requests"] {
		n = 0
	}
	for _, k := range strings.Split(*modes, ",") {
		m := load.Mode{Kind: load.ModeKind(strings.TrimSpace(k)), Requests: n, Duration: *duration}
		switch m.Kind {
		case load.KindConcurrent:
			m.Concurrency = *concurrency
			if m.Concurrency == 0 {
				m.Concurrency = n
			}
		case load.KindRate:
			m.Rate, m.Arrival, m.Seed, m.MaxInFlight = *rate, load.Arrival(*arrival), *seed, *maxInFlight
		}
		cfg.Modes = append(cfg.Modes, m)
	}
	if err := cfg.Validate(); err != nil {
		return exitcode.UsageError(fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  ")))
	}
	if _, err := cfg.Prompts.Load(); err != nil {
		return exitcode.UsageError(fmt.Errorf("prompts: %w", err))
	}

	var onResult func(load.RequestResult)
	var jw *bufio.Writer
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return exitcode.UsageError(err)
		}
		defer f.Close()
		jw = bufio.NewWriterSize(f, 64<<10)
		enc := json.NewEncoder(jw)
		onResult = func(r load.RequestResult) { enc.Encode(r) }
	}
	start := time.Now()
	sums, err := load.Run(ctx, cfg, onResult)
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
		fmt.Fprintf(stdout, "\nwall time %.3fs\n", time.Since(start).Seconds())
	}
	var result error
	for _, s := range sums {
		if s.ThresholdExceeded {
			fmt.Fprintf(stderr, "load: mode %s: %d of %d requests failed (%v), above the error threshold %v\n",
				s.Mode, s.Failed, s.Completed+s.Failed, load.ClassCounts(s.ErrorsByClass), cfg.ErrorThreshold)
			result = errThreshold
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		result = exitcode.Reported(err)
	}
	if ctx.Err() != nil {
		return exitcode.Reported(exitcode.ErrInterrupted)
	}
	return result
}
