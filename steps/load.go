package steps

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// Load sends OpenAI-compatible requests to a server, one or more modes in
// order, and records per-request results and per-mode summaries.
type Load struct {
	ID              string `yaml:"-" json:"-"`
	ServerRef       `yaml:",inline"`
	URL             string            `yaml:"url" json:"url,omitempty" doc:"base URL instead of a launched server's, e.g. http://127.0.0.1:8000"`
	API             load.API          `yaml:"api" json:"api" doc:"completions (/v1/completions) or chat (/v1/chat/completions)"`
	Model           string            `yaml:"model" json:"model" doc:"model name sent in every request"`
	APIKeyEnv       string            `yaml:"api_key_env" json:"api_key_env,omitempty" doc:"name of the environment variable holding the API key (the key itself is never written anywhere)"`
	Stream          bool              `yaml:"stream" json:"stream" doc:"stream with SSE (needed for TTFT and inter-token latency)"`
	MaxTokens       int               `yaml:"max_tokens" json:"max_tokens" doc:"max_tokens of every request"`
	Extra           map[string]any    `yaml:"extra" json:"extra,omitempty" doc:"fields merged into every request body: ignore_eos, min_tokens, temperature, ..."`
	Prompt          string            `yaml:"prompt" json:"prompt,omitempty" doc:"one prompt for every request (default: the seed's)"`
	Prompts         []string          `yaml:"prompts" json:"prompts,omitempty" doc:"prompts used in turn"`
	PromptFile      string            `yaml:"prompt_file" json:"prompt_file,omitempty" doc:"file of prompts: one per line, or JSONL with a prompt field"`
	SyntheticTokens int               `yaml:"synthetic_tokens" json:"synthetic_tokens,omitempty" doc:"generate distinct prompts of about this many tokens"`
	Seed            int64             `yaml:"seed" json:"seed,omitempty" doc:"seed of synthetic prompts"`
	Metrics         string            `yaml:"metrics" json:"metrics,omitempty" doc:"the server's Prometheus path (vLLM: /metrics), scraped before and after each mode: prefix_cache_queries, prefix_cache_hits and prefix_cache_hit_rate on the mode's summary row (left empty when the server has no such counters)"`
	Dataset         *load.Dataset     `yaml:"dataset" json:"dataset,omitempty" doc:"requests from a dataset instead of prompts (vLLM's dataset names): random, sharegpt, jsonl, trace, shared_prefix; prompt lengths are fitted to the server's own token count"`
	Warmup          int               `yaml:"warmup" json:"warmup" doc:"requests before each mode, excluded from results"`
	RequestTimeout  spec.Duration     `yaml:"request_timeout" json:"request_timeout" doc:"timeout of one request, stream included"`
	ErrorThreshold  float64           `yaml:"error_threshold" json:"error_threshold" doc:"fraction of failed requests a mode tolerates before the step fails (0: any error fails)"`
	Modes           load.Modes        `yaml:"modes" json:"modes" doc:"modes run in order against the same server; a list of concurrency or rate values expands into one mode per value (concurrent-1, concurrent-8, ...)"`
	SLO             *load.SLO         `yaml:"slo" json:"slo,omitempty" doc:"service-level objectives of every mode without its own (see a mode's slo)"`
	ResetCache      bool              `yaml:"reset_cache" json:"reset_cache,omitempty" doc:"before each mode after the first, drop the engine's prefix cache (vLLM POST /reset_prefix_cache; a no-op with a note where the engine has none)"`
	Settle          spec.Duration     `yaml:"settle" json:"settle,omitempty" doc:"pause between modes (after reset_cache), so one mode's tail does not overlap the next"`
	Requests        string            `yaml:"requests_file" json:"requests_file" doc:"per-request results (JSONL) in the point folder"`
	Metadata        map[string]string `yaml:"metadata" json:"metadata,omitempty" doc:"name: value pairs added to every row of load.summary and load.requests and recorded as values (as vllm bench serve --metadata), e.g. {engine: \"${engine}\"} to label where numbers came from"`
}

// SetTarget records the endpoint for the plan.
func (l *Load) SetTarget(launches map[string]Launcher, last string) {
	path := "/v1/completions"
	if l.API == load.APIChat {
		path = "/v1/chat/completions"
	}
	if l.URL != "" {
		l.Target = strings.TrimRight(l.URL, "/") + path
		return
	}
	l.Target = targetURL(launches, last, l.Server, path)
}

// LoadMode is one measured phase of a load step: the load engine's own
// Mode, decoded straight from the spec.
type LoadMode = load.Mode

func newLoad() Step {
	return &Load{API: load.APICompletions, Stream: true, MaxTokens: load.DefaultMaxTokens,
		RequestTimeout: spec.Duration(load.DefaultRequestTimeout), Requests: "requests.jsonl"}
}

// SetID is called by the planner with the step's id.
func (l *Load) SetID(id string) { l.ID = id }

func (l *Load) config(baseURL string) load.Config {
	c := load.Config{BaseURL: baseURL, API: l.API, MetricsPath: l.Metrics, Model: l.Model, Stream: l.Stream, MaxTokens: l.MaxTokens,
		Extra: l.Extra, Warmup: l.Warmup, RequestTimeout: l.RequestTimeout.D(), ErrorThreshold: l.ErrorThreshold, SLO: l.SLO,
		Prompts: load.Prompts{Fixed: l.Prompt, List: l.Prompts, File: l.PromptFile, SyntheticTokens: l.SyntheticTokens, Seed: l.Seed}}
	c.Modes = slices.Clone(l.Modes)
	if l.Dataset != nil {
		d := *l.Dataset
		c.Dataset = &d
	}
	return c
}

// Validate reports every problem of the configuration, each at its key:
// the step's own rules and the load engine's (whose fields are the step's
// keys).
func (l *Load) Validate() error {
	var p spec.Problems
	for _, e := range spec.SplitErrors(l.config("http://placeholder").Validate()) {
		var fe *spec.FieldError
		if errors.As(e, &fe) && (fe.Field == "modes" || fe.Field == "base_url") {
			continue // reported below in the step's words / the placeholder URL
		}
		p.Nest("", e)
	}
	if len(l.Modes) == 0 {
		p.Add("modes", "give at least one mode, e.g. [{kind: sequential, requests: 32}]")
	}
	var recorded results.Names // what its rows hold already
	recorded.Add(load.SummaryNames()...)
	recorded.Add(loadRequestColumns...)
	recorded.Add(loadDatasetColumns...)
	recorded.Add(results.PointFields...)
	for _, k := range results.SortedKeys(l.Metadata) {
		if recorded.Has(k) || k == "" {
			p.Add("metadata."+k, "%q is a name the load step records itself", k)
		}
	}
	if !spec.Confined(l.Requests) {
		p.Add("requests_file", "%q must be a file name inside the point folder", l.Requests)
	}
	return p.Err()
}

// loadProgressInterval paces the load's live progress on the run's console:
// a plain line every few seconds (points may share the console, so lines
// are not redrawn); the console only, never the artifacts.
var loadProgressInterval = 5 * time.Second

// UsesServer names the launch the load sends to; without url it needs one.
func (l *Load) UsesServer() (id, needs string) {
	if l.URL == "" {
		needs = "a load without url"
	}
	return l.Server, needs
}

// Run sends the load and records results.
func (l *Load) Run(ctx context.Context, env *Env) error {
	base := l.URL
	if base == "" {
		s, err := env.Server(l.Server)
		if err != nil {
			return err
		}
		if s.URL == "" {
			return fmt.Errorf("server %s declared no port; give load a url", s.ID)
		}
		base = s.URL
	}
	cfg := l.config(strings.TrimRight(base, "/"))
	cfg.OnProgress, cfg.ProgressInterval = load.ProgressPrinter(env.Log, false), loadProgressInterval
	if l.APIKeyEnv != "" {
		key, ok := os.LookupEnv(l.APIKeyEnv)
		if !ok {
			return fmt.Errorf("api_key_env: environment variable %s is not set", l.APIKeyEnv)
		}
		cfg.APIKey = key
	}
	if l.PromptFile != "" && !filepath.IsAbs(l.PromptFile) {
		cfg.Prompts.File = filepath.Join(env.SpecDir, l.PromptFile)
	}
	if cfg.Dataset != nil && cfg.Dataset.Path != "" && !filepath.IsAbs(cfg.Dataset.Path) {
		cfg.Dataset.Path = filepath.Join(env.SpecDir, cfg.Dataset.Path)
	}
	if cfg.Dataset != nil && cfg.Dataset.Tokenizer != "" && !filepath.IsAbs(string(cfg.Dataset.Tokenizer)) {
		cfg.Dataset.Tokenizer = load.TokenizerFile(filepath.Join(env.SpecDir, string(cfg.Dataset.Tokenizer)))
	}
	// A dataset is built once (its lengths counted on the server) for
	// every mode.
	reqs, note, err := load.PrepareRequests(ctx, cfg)
	if err != nil {
		return err
	}
	cfg.Prepared = reqs
	if note != "" {
		fmt.Fprintln(env.Log, note)
	}
	f, err := openInPoint(env, l.Requests, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<16)
	var mu sync.Mutex
	var writeErr error
	enc := json.NewEncoder(w)
	meta := results.SortedKeys(l.Metadata)
	for _, k := range meta {
		env.Set(k, l.Metadata[k])
	}
	onResult := func(r load.RequestResult) {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(r); err != nil && writeErr == nil {
			writeErr = err
		}
		row := Values{}
		row.Set("mode", r.Mode)
		row.Set("index", r.Index)
		row.Set("ttft_ms", r.TTFTms)
		row.Set("e2el_ms", r.E2ELms)
		row.Set("completion_tokens", r.CompletionTokens)
		row.Set("finish_reason", r.FinishReason)
		row.Set("error_class", r.ErrorClass)
		if l.Dataset != nil {
			row.Set("prompt_tokens", r.PromptTokens)
			row.Set("intended_prompt_tokens", r.IntendedPromptTokens)
			if r.Turn > 0 {
				row.Set("session", r.Session)
				row.Set("turn", r.Turn)
			}
		}
		for _, k := range meta {
			row.Set(k, l.Metadata[k])
		}
		env.Append("load.requests", row)
	}
	sums, runErr := l.runLoadModes(ctx, cfg, onResult, env)
	if err := w.Flush(); err != nil && writeErr == nil {
		writeErr = err
	}
	var failed []string
	for _, s := range sums {
		vals := s.Values()
		row := Values{}
		for _, k := range results.SortedKeys(vals) {
			row.Set(k, vals[k])
		}
		for _, k := range meta {
			row.Set(k, l.Metadata[k])
		}
		env.Append("load.summary", row)
		if s.Probe > 0 || s.Rep > 0 {
			continue // a search probe or one repetition: a row, not the mode's values
		}
		p := s.Mode + "_"
		if s.N > 0 {
			env.Set(p+"n", s.N)
			for _, k := range loadRepeatValues {
				if v, ok := vals[k]; ok {
					env.Set(p+k, v)
				}
			}
		}
		env.Set(p+"s", s.Duration)
		env.Set(p+"completed", s.Completed)
		env.Set(p+"failed", s.Failed)
		env.Set(p+"output_throughput", s.OutputThroughput)
		env.Set(p+"request_throughput", s.RequestThroughput)
		env.Set(p+"mean_ttft_ms", s.MeanTTFTms)
		env.Set(p+"p99_ttft_ms", s.P99TTFTms)
		env.Set(p+"mean_e2el_ms", s.MeanE2ELms)
		env.Set(p+"max_concurrent_requests", s.MaxConcurrentRequests)
		if s.PromptTokenChecks > 0 {
			env.Set(p+"prompt_token_mismatches", s.PromptTokenMismatches)
		}
		if s.PrefixCacheHitRate != nil {
			env.Set(p+"prefix_cache_hit_rate", *s.PrefixCacheHitRate)
		}
		fmt.Fprintf(env.Log, "%s: %d ok, %d failed in %.2fs (%.1f req/s, %.1f tok/s, TTFT p50 %.1f ms)\n",
			s.Mode, s.Completed, s.Failed, s.Duration, s.RequestThroughput, s.OutputThroughput, s.MedianTTFTms)
		if s.ThresholdExceeded {
			failed = append(failed, fmt.Sprintf("mode %s: %d of %d requests failed (%s)", s.Mode, s.Failed, s.Completed+s.Failed, classes(s.ErrorsByClass)))
		}
	}
	if runErr != nil {
		return runErr
	}
	if writeErr != nil {
		return fmt.Errorf("writing %s: %w", l.Requests, writeErr)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s (error_threshold %g)", strings.Join(failed, "; "), l.ErrorThreshold)
	}
	return nil
}

// runLoadModes runs the modes one by one so that a telemetry sampler (if a
// measure step started one) can mark where each mode begins and ends.
func (l *Load) runLoadModes(ctx context.Context, cfg load.Config, onResult func(load.RequestResult), env *Env) ([]load.Summary, error) {
	mark, _ := env.Shared(sharedModeMarkers)
	if mark != nil {
		defer mark.(func(string))("") // close the last mode's window, also on failure
	}
	var out []load.Summary
	noReset := false
	for i, m := range cfg.Modes {
		if i > 0 {
			if err := l.betweenModes(ctx, cfg, env, &noReset); err != nil {
				return out, err
			}
		}
		one := cfg
		one.Modes = []load.Mode{m}
		name := m.Name
		if name == "" {
			name = string(m.Kind)
		}
		if mark != nil {
			// The window opens after the warm-up, so the mode's GPU
			// figures cover its measured requests only.
			one.OnModeStart = func(string) { mark.(func(string))(name) }
		}
		var sums []load.Summary
		var err error
		if m.Kind == load.KindSearch {
			sums, err = runSearch(ctx, one, m, onResult, env)
		} else {
			sums, err = load.Run(ctx, one, onResult)
		}
		if mark != nil {
			mark.(func(string))("") // close the window before the next mode's warm-up
		}
		out = append(out, sums...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// betweenModes resets the prefix cache (reset_cache) and waits settle
// before a mode after the first. An engine without the endpoint is noted
// once (*noReset) and not asked again.
func (l *Load) betweenModes(ctx context.Context, cfg load.Config, env *Env, noReset *bool) error {
	if l.ResetCache && !*noReset {
		supported, err := load.ResetPrefixCache(ctx, cfg)
		if err != nil {
			return err
		}
		if !supported {
			*noReset = true
			fmt.Fprintf(env.Log, "reset_cache: the engine has no /reset_prefix_cache; modes run with whatever it cached\n")
		}
	}
	if l.Settle > 0 {
		select {
		case <-time.After(l.Settle.D()):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// runSearch runs search mode m, its bound from the point's recorded KV
// capacity (max_concurrency, else predicted_max_concurrency) when max is
// auto, and records the search_* values.
func runSearch(ctx context.Context, cfg load.Config, m load.Mode, onResult func(load.RequestResult), env *Env) ([]load.Summary, error) {
	bound := load.ResolveSearchMax(m, numberValue(env, "max_concurrency"), numberValue(env, "predicted_max_concurrency"))
	r, err := load.Search(ctx, cfg, m, bound, onResult)
	env.Set("search_probes", r.Probes)
	env.Set("search_bound", bound.Max)
	env.Set("search_bound_source", bound.Source)
	env.Set("search_max_passing", "")
	env.Set("search_first_failing", "")
	if r.Found {
		env.Set("search_max_passing", r.MaxPassing)
		vals := r.Passing.Values()
		for _, k := range []string{"request_goodput", "output_throughput", "request_throughput", "p99_ttft_ms", "p99_tpot_ms", "slo_attainment"} {
			if v, ok := vals[k]; ok {
				env.Set("search_"+k, v)
			}
		}
		// The point's answer under vLLM's names, for tables across points.
		for _, k := range []string{"request_goodput", "output_throughput"} {
			if v, ok := vals[k]; ok {
				env.Set(k, v)
			}
		}
	}
	if r.HasFailing {
		env.Set("search_first_failing", r.FirstFailing)
	}
	env.Set("search_binding", r.Binding)
	env.Set("search_monotonic", r.Monotonic)
	env.Set("search_at_bound", r.AtBound)
	env.Set("search_note", r.Note())
	fmt.Fprintf(env.Log, "%s: %s (%d probes, bound %g from %s)\n", m.Name, r.Note(), r.Probes, bound.Max, bound.Source)
	return r.Summaries, err
}

// searchValues are the values a search mode records for its point.
var searchValues = []string{"search_probes", "search_bound", "search_bound_source", "search_max_passing", "search_first_failing",
	"search_binding", "search_monotonic", "search_at_bound", "search_note", "search_request_goodput", "search_output_throughput",
	"search_request_throughput", "search_p99_ttft_ms", "search_p99_tpot_ms", "search_slo_attainment",
	"request_goodput", "output_throughput"}

// numberValue returns the point's value name as a number, 0 when it is
// not recorded or not a number.
func numberValue(env *Env, name string) float64 {
	v, ok := env.Value(name)
	if !ok {
		return 0
	}
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return 0
}

// sharedModeMarkers is the Env key of a func(mode string) that a running
// telemetry sampler registers, so samples can be attributed to load modes.
const sharedModeMarkers = "telemetry.mark"

func classes(m map[string]int) string {
	var parts []string
	for _, k := range results.SortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
