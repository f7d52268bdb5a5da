package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gguf"
)

// cmdGGUF is `runexp gguf` (and cmd/gengguf, so prog is the name it was
// called by): it writes a random-weight llama GGUF and a JSON sidecar, or
// prints a shape. Bad flags and arguments are usage errors (exit 2).
func cmdGGUF(prog string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	setHelp(fs, prog+" [flags]", "Writes a random-weight llama GGUF (byte-fallback vocabulary, never emits\nend-of-sequence, so every reply is exactly max_tokens long) and a JSON\nsidecar of its shape.")
	preset := fs.String("shape", "tiny", "preset shape: "+strings.Join(gguf.PresetNames(), ", ")+"; other flags override it")
	dim := fs.Int("dim", 0, "embedding length")
	layers := fs.Int("layers", 0, "number of blocks")
	heads := fs.Int("heads", 0, "attention heads")
	kvHeads := fs.Int("kv-heads", 0, "key/value heads (default: heads)")
	ff := fs.Int("ff", 0, "feed-forward length")
	vocab := fs.Int("vocab", 0, fmt.Sprintf("vocabulary size (>= %d)", gguf.MinVocab))
	ctxLen := fs.Int("context-length", 0, "llama.context_length; Ollama caps num_ctx at it (preset default 131072)")
	dtype := fs.String("dtype", "", "weight type: f32 or f16")
	seed := fs.Uint64("seed", 1, "random seed")
	name := fs.String("name", "", `general.name (must not contain "phi3"; default random-llama-<params>)`)
	out := fs.String("out", "", "output GGUF path")
	sidecar := fs.String("sidecar", "", `shape JSON path (default <out>.json; "none" to skip)`)
	printShape := fs.Bool("print-shape", false, "print the shape JSON to stdout and exit without writing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitcode.UsageError(fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	s, ok := gguf.Presets[*preset]
	if !ok {
		return exitcode.UsageError(fmt.Errorf("unknown shape %q (have %s)", *preset, strings.Join(gguf.PresetNames(), ", ")))
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
		d, err := gguf.ParseDType(*dtype)
		if err != nil {
			return err
		}
		s.DType = d
	}
	if *name == "" {
		*name = gguf.DefaultName(s)
	}
	opts := gguf.Options{Shape: s, Name: *name, Seed: *seed}
	layout, err := gguf.Plan(opts)
	if err != nil {
		return err
	}
	if *printShape {
		return printJSON(stdout, layout.Info())
	}
	if *out == "" {
		return errors.New("--out is required (or --print-shape)")
	}
	start := time.Now()
	info, err := gguf.WriteFile(*out, opts)
	if err != nil {
		return err
	}
	el := time.Since(start)
	side := *sidecar
	if side == "" {
		side = *out + ".json"
	}
	if side != "none" {
		if err := gguf.WriteInfo(side, info); err != nil {
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

// GGUF runs the gguf command under the name prog (cmd/gengguf) and returns
// its exit code.
func GGUF(prog string, args []string, stdout, stderr io.Writer) int {
	return runCommand(prog, stderr, func(context.Context) error { return cmdGGUF(prog, args, stdout, stderr) })
}
