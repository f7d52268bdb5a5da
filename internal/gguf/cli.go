package gguf

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Main is the gengguf command (also `runexp gguf`, so prog is the name it
// was called by): it writes a random-weight model and a JSON sidecar, or
// prints a shape. It returns the exit code: 0 (also for -h), 2 for bad
// flags, 1 otherwise.
func Main(prog string, args []string, stdout, stderr io.Writer) int {
	err := run(prog, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2 // the flag package has printed it
	}
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var (
	errFlags = errors.New("bad flags")
	errUsage = errors.New("usage")
)

func run(prog string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	preset := fs.String("shape", "tiny", "preset shape: "+strings.Join(PresetNames(), ", ")+"; other flags override it")
	dim := fs.Int("dim", 0, "embedding length")
	layers := fs.Int("layers", 0, "number of blocks")
	heads := fs.Int("heads", 0, "attention heads")
	kvHeads := fs.Int("kv-heads", 0, "key/value heads (default: heads)")
	ff := fs.Int("ff", 0, "feed-forward length")
	vocab := fs.Int("vocab", 0, fmt.Sprintf("vocabulary size (>= %d)", MinVocab))
	ctxLen := fs.Int("context-length", 0, "llama.context_length; Ollama caps num_ctx at it (preset default 131072)")
	dtype := fs.String("dtype", "", "weight type: f32 or f16")
	seed := fs.Uint64("seed", 1, "random seed")
	name := fs.String("name", "", `general.name (must not contain "phi3"; default random-llama-<params>)`)
	out := fs.String("out", "", "output GGUF path")
	sidecar := fs.String("sidecar", "", `shape JSON path (default <out>.json; "none" to skip)`)
	printShape := fs.Bool("print-shape", false, "print the shape JSON to stdout and exit without writing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errFlags, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments: %q", errUsage, fs.Args())
	}
	s, ok := Presets[*preset]
	if !ok {
		return fmt.Errorf("%w: unknown shape %q (have %s)", errUsage, *preset, strings.Join(PresetNames(), ", "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	override := func(flagName string, dst *int, v int) {
		if set[flagName] {
			*dst = v
		}
	}
	override("dim", &s.Dim, *dim)
	override("layers", &s.Layers, *layers)
	override("heads", &s.Heads, *heads)
	override("ff", &s.FF, *ff)
	override("vocab", &s.Vocab, *vocab)
	override("context-length", &s.ContextLength, *ctxLen)
	switch {
	case set["kv-heads"]:
		s.KVHeads = *kvHeads
	case set["heads"]:
		s.KVHeads = s.Heads
	}
	if set["dtype"] {
		d, err := ParseDType(*dtype)
		if err != nil {
			return err
		}
		s.DType = d
	}
	if *name == "" {
		*name = "random-llama-" + humanParams(s.Params())
	}
	opts := Options{Shape: s, Name: *name, Seed: *seed}
	layout, err := Plan(opts)
	if err != nil {
		return err
	}
	if *printShape {
		return printJSON(stdout, layout.Info())
	}
	if *out == "" {
		return fmt.Errorf("--out is required (or --print-shape)")
	}
	start := time.Now()
	info, err := WriteFile(*out, opts)
	if err != nil {
		return err
	}
	el := time.Since(start)
	side := *sidecar
	if side == "" {
		side = *out + ".json"
	}
	if side != "none" {
		if err := WriteInfo(side, info); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "gengguf: wrote %s: %d bytes, %d params, %.1f s (%.0f MB/s)\n",
		*out, info.FileBytes, info.Params, el.Seconds(), float64(info.FileBytes)/1e6/el.Seconds())
	fmt.Fprintf(stdout, "sha256:%s\n", info.SHA256)
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// humanParams gives 26M, 3p8b style sizes (no dots: names become paths).
func humanParams(n int64) string {
	switch {
	case n >= 1e9:
		return strings.Replace(fmt.Sprintf("%.1fb", float64(n)/1e9), ".", "p", 1)
	case n >= 1e6:
		return fmt.Sprintf("%dm", (n+5e5)/1e6)
	default:
		return fmt.Sprintf("%dk", (n+500)/1e3)
	}
}
