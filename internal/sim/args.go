package sim

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/modelcfg"
)

// Options are the settings of `runexp sim serve`. Zero values of the vLLM
// settings mean vLLM's default.
type Options struct {
	Model           string
	ServedModelName []string
	// ModelConfig is a Hugging Face config.json (or a directory holding
	// one); empty means the built-in preset named by Model.
	ModelConfig          string
	MaxModelLen          int // 0: the model's max_position_embeddings
	GPUMemoryUtilization float64
	MaxNumSeqs           int // 0: vLLM's default for the GPU
	MaxNumBatchedTokens  int // 0: vLLM's default for the GPU
	BlockSize            int
	DType                string
	KVCacheDType         string
	EnforceEager         bool
	NumGPUBlocksOverride int
	Seed                 int64
	// EnablePrefixCaching is vLLM V1's automatic prefix caching (on by
	// default; --no-enable-prefix-caching turns it off).
	EnablePrefixCaching bool
	// EnablePromptTokensDetails adds usage.prompt_tokens_details
	// (cached_tokens) to responses.
	EnablePromptTokensDetails bool
	DisableLogStats           bool
	Host                      string
	Port                      int
	GPU                       string
	StartupDelay              time.Duration
	TimeScale                 float64
	// PrintMemory prints the memory plan and exits, without serving: the
	// capacity-planning answer ("what will max-model-len 8192 give me on an
	// L4?") with no GPU and no server.
	PrintMemory bool
	// StateDir is where the server publishes its simulated GPU allocation;
	// Main sets it from simgpu.StateDir().
	StateDir string

	// ready, when set, is called with the listen address once serving
	// (tests).
	ready func(addr string)
}

// Defaults of the simulator-only flags and of --host (see Usage).
const (
	DefaultHost         = "127.0.0.1"
	DefaultPort         = 8000
	DefaultStartupDelay = 300 * time.Millisecond
)

// DefaultOptions returns the options `runexp sim serve MODEL` runs with
// (Model still to be set).
func DefaultOptions() Options {
	return Options{
		GPUMemoryUtilization: 0.92,
		BlockSize:            16,
		EnablePrefixCaching:  true,
		DType:                "auto",
		KVCacheDType:         "auto",
		Host:                 DefaultHost,
		Port:                 DefaultPort,
		GPU:                  simgpu.DefaultGPU,
		StartupDelay:         DefaultStartupDelay,
		TimeScale:            1,
	}
}

type flagDef struct {
	name  string
	value bool // takes a value
	help  string
	set   func(o *Options, v string) error
}

func intFlag(dst func(*Options) *int, lo int) func(*Options, string) error {
	return func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("invalid int value: %q", v)
		}
		if n < lo {
			return fmt.Errorf("must be at least %d, got %d", lo, n)
		}
		*dst(o) = n
		return nil
	}
}

func strFlag(dst func(*Options) *string) func(*Options, string) error {
	return func(o *Options, v string) error { *dst(o) = v; return nil }
}

// parseDuration accepts a Go duration ("300ms") or plain seconds ("0.3").
func parseDuration(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && !math.IsInf(f, 0) {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 300ms or 0.3)", v)
	}
	return d, nil
}

var flagDefs = []flagDef{
	{name: "model", value: true, help: "model name or Hugging Face id (also positional)", set: strFlag(func(o *Options) *string { return &o.Model })},
	{name: "served-model-name", value: true, help: "name(s) the API serves the model as (default: the model)", set: func(o *Options, v string) error {
		o.ServedModelName = append(o.ServedModelName, v)
		return nil
	}},
	{name: "model-config", value: true, help: "[sim] Hugging Face config.json (file or directory) describing the model; default: a built-in preset named by the model", set: strFlag(func(o *Options) *string { return &o.ModelConfig })},
	{name: "max-model-len", value: true, help: "context length (default: the model's max_position_embeddings)", set: func(o *Options, v string) error {
		n, err := parseTokenCount(v)
		if err != nil {
			return err
		}
		o.MaxModelLen = n
		return nil
	}},
	{name: "gpu-memory-utilization", value: true, help: "fraction of GPU memory the engine may use (default 0.92)", set: func(o *Options, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return fmt.Errorf("must be in (0, 1], got %q", v)
		}
		o.GPUMemoryUtilization = f
		return nil
	}},
	{name: "max-num-seqs", value: true, help: "max running requests (default: 1024 on H100/H200, else 256)", set: intFlag(func(o *Options) *int { return &o.MaxNumSeqs }, 1)},
	{name: "max-num-batched-tokens", value: true, help: "token budget per engine step (default: 8192 on H100/H200, else 2048)", set: intFlag(func(o *Options) *int { return &o.MaxNumBatchedTokens }, 1)},
	{name: "block-size", value: true, help: "KV block size in tokens (default 16)", set: func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || !validBlockSize(n) {
			return fmt.Errorf("invalid choice: %q (choose from 1, 8, 16, 32, 64, 128)", v)
		}
		o.BlockSize = n
		return nil
	}},
	{name: "dtype", value: true, help: "weight dtype: auto, bfloat16, float16/half, float32/float (default auto)", set: strFlag(func(o *Options) *string { return &o.DType })},
	{name: "kv-cache-dtype", value: true, help: "KV cache dtype: auto, fp8, fp8_e4m3, fp8_e5m2 (default auto)", set: strFlag(func(o *Options) *string { return &o.KVCacheDType })},
	{name: "enforce-eager", help: "disable CUDA graphs (no graph memory, slower steps)", set: func(o *Options, v string) error {
		b, err := parseBool(v)
		o.EnforceEager = b
		return err
	}},
	{name: "num-gpu-blocks-override", value: true, help: "use this many KV blocks instead of the profiled number (vLLM: for testing preemption)", set: intFlag(func(o *Options) *int { return &o.NumGPUBlocksOverride }, 1)},
	{name: "seed", value: true, help: "seed of the simulated output lengths and text (default 0)", set: func(o *Options, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid int value: %q", v)
		}
		o.Seed = n
		return nil
	}},
	{name: "disable-log-stats", help: "do not log engine stats every 5 s", set: func(o *Options, v string) error {
		b, err := parseBool(v)
		o.DisableLogStats = b
		return err
	}},
	{name: "host", value: true, help: "address to listen on (default 127.0.0.1; vLLM's default is 0.0.0.0 — the simulator stays on loopback unless told)", set: strFlag(func(o *Options) *string { return &o.Host })},
	{name: "port", value: true, help: "port to listen on (default 8000; 0 picks a free port)", set: func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("invalid port %q", v)
		}
		o.Port = n
		return nil
	}},
	{name: "gpu", value: true, help: "[sim] simulated GPU preset: " + strings.Join(simgpu.GPUNames(), ", ") + " (default " + simgpu.DefaultGPU + ")", set: func(o *Options, v string) error {
		g, err := simgpu.LookupGPU(v)
		if err != nil {
			return err
		}
		o.GPU = g.Name
		return nil
	}},
	{name: "startup-delay", value: true, help: "[sim] modelled load time, split into load/profile/KV/graph phases (default 300ms)", set: func(o *Options, v string) error {
		d, err := parseDuration(v)
		o.StartupDelay = d
		return err
	}},
	{name: "print-memory", help: "[sim] print the memory plan (weights, activation, graphs, KV pool, tokens, concurrency, formula) and exit without serving; exit 1 if the length does not fit", set: func(o *Options, v string) error {
		o.PrintMemory = true
		return nil
	}},
	{name: "time-scale", value: true, help: "[sim] multiply modelled step times by this (default 1; 0 = no waiting)", set: func(o *Options, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("must be a number >= 0, got %q", v)
		}
		o.TimeScale = f
		return nil
	}},
	// Accepted for compatibility with vLLM command lines; no effect.
	{name: "trust-remote-code", help: "accepted, no effect", set: noop},
	{name: "disable-log-requests", help: "accepted, no effect", set: noop},
	{name: "enable-log-requests", help: "accepted, no effect", set: noop},
	{name: "enable-prefix-caching", help: "automatic prefix caching: full prompt blocks shared across requests (default on, as in vLLM V1; --no-enable-prefix-caching turns it off)", set: func(o *Options, v string) error {
		b, err := parseBool(v)
		o.EnablePrefixCaching = b
		return err
	}},
	{name: "enable-prompt-tokens-details", help: "report usage.prompt_tokens_details.cached_tokens (the prefix cache hit)", set: func(o *Options, v string) error {
		b, err := parseBool(v)
		o.EnablePromptTokensDetails = b
		return err
	}},
	{name: "disable-uvicorn-access-log", help: "accepted, no effect", set: noop},
	{name: "tensor-parallel-size", value: true, help: "only 1 is simulated", set: func(o *Options, v string) error {
		if v != "1" {
			return fmt.Errorf("the simulator models one GPU; got %q", v)
		}
		return nil
	}},
}

func noop(*Options, string) error { return nil }

// unsupportedFlags are vLLM flags the simulator knows but does not model.
var unsupportedFlags = map[string]string{
	"kv-cache-memory-bytes":     "not simulated; use --gpu-memory-utilization",
	"pipeline-parallel-size":    "the simulator models one GPU",
	"data-parallel-size":        "the simulator models one GPU",
	"speculative-config":        "speculative decoding is not simulated",
	"quantization":              "quantized weights are not simulated; use --dtype",
	"max-seq-len-to-capture":    "not simulated",
	"swap-space":                "not simulated",
	"cpu-offload-gb":            "not simulated",
	"enable-chunked-prefill":    "chunked prefill is always on (vLLM V1)",
	"no-enable-chunked-prefill": "chunked prefill is always on (vLLM V1)",
	"disable-sliding-window":    "not simulated",
	"enable-lora":               "LoRA is not simulated",
	"api-key":                   "not simulated",
}

func validBlockSize(n int) bool {
	switch n {
	case 1, 8, 16, 32, 64, 128:
		return true
	}
	return false
}

func parseBool(v string) (bool, error) {
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid bool value %q", v)
	}
	return b, nil
}

// parseTokenCount reads vLLM's human-friendly token counts: 4096, 4k, 1K
// (k = 1000, K = 1024), 1m, 1M.
func parseTokenCount(v string) (int, error) {
	mult := 1
	s := v
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k':
			mult, s = 1000, s[:n-1]
		case 'K':
			mult, s = 1024, s[:n-1]
		case 'm':
			mult, s = 1000000, s[:n-1]
		case 'M':
			mult, s = 1<<20, s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 1 || f*float64(mult) > math.MaxInt32 {
		return 0, fmt.Errorf("invalid token count %q", v)
	}
	return int(f * float64(mult)), nil
}

func lookupFlag(name string) (flagDef, bool) {
	for _, f := range flagDefs {
		if f.name == name {
			return f, true
		}
	}
	return flagDef{}, false
}

// ParseArgs reads `runexp sim serve` arguments (flag.ErrHelp for -h/--help): [serve] [MODEL] [flags],
// flags as --name value or --name=value, with vLLM's spelling (underscores
// are accepted for dashes, and --no-X for boolean flags).
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "--help" {
			return o, flag.ErrHelp
		}
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "--") || len(a) == 2 {
			if strings.HasPrefix(a, "-") && a != "-" {
				return o, fmt.Errorf("unrecognized arguments: %s", a)
			}
			positional = append(positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		name = strings.ReplaceAll(name, "_", "-")
		neg := false
		f, ok := lookupFlag(name)
		if !ok && strings.HasPrefix(name, "no-") {
			if g, ok2 := lookupFlag(name[3:]); ok2 && !g.value {
				f, ok, neg = g, true, true
			}
		}
		if !ok {
			if why, known := unsupportedFlags[name]; known {
				return o, fmt.Errorf("--%s: %s", name, why)
			}
			return o, fmt.Errorf("unrecognized arguments: --%s (not a flag the simulator accepts; see --help)", name)
		}
		switch {
		case f.value && !hasVal:
			if i+1 >= len(args) {
				return o, fmt.Errorf("argument --%s: expected one argument", name)
			}
			i++
			val = args[i]
		case !f.value && neg:
			if hasVal {
				return o, fmt.Errorf("argument --no-%s: ignored explicit argument %q", name, val)
			}
			val = "false"
		}
		if err := f.set(&o, val); err != nil {
			return o, fmt.Errorf("argument --%s: %w", name, err)
		}
	}
	switch {
	case len(positional) > 1:
		return o, fmt.Errorf("unrecognized arguments: %s", strings.Join(positional[1:], " "))
	case len(positional) == 1 && o.Model != "" && o.Model != positional[0]:
		return o, fmt.Errorf("model given twice: %q and --model %q", positional[0], o.Model)
	case len(positional) == 1:
		o.Model = positional[0]
	}
	if o.Model == "" && o.ModelConfig == "" {
		return o, errors.New("no model: give a model name (positional or --model) or --model-config")
	}
	return o, nil
}

// Usage is the help text of `runexp sim serve`.
func Usage() string {
	var b strings.Builder
	b.WriteString(`usage: runexp sim serve [MODEL] [flags]

A simulated vLLM OpenAI-compatible server: vLLM's flags, log lines, memory
accounting, endpoints and metrics, on a modelled GPU (no GPU is used).
Flags take "--flag value" or "--flag=value".

`)
	for _, f := range flagDefs {
		arg := ""
		if f.value {
			arg = " " + strings.ToUpper(strings.ReplaceAll(f.name, "-", "_"))
		}
		fmt.Fprintf(&b, "  --%s%s\n        %s\n", f.name, arg, f.help)
	}
	fmt.Fprintf(&b, "\nModel presets: %s\n(any other model: --model-config PATH/config.json)\n", strings.Join(modelcfg.PresetNames(), ", "))
	return b.String()
}
