package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/ollama"
)

// ollamaParams is --param key=value; numbers and booleans keep their JSON
// type.
type ollamaParams map[string]any

func (p ollamaParams) String() string { return fmt.Sprint(map[string]any(p)) }

func (p ollamaParams) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		p[k] = i
	} else if f, err := strconv.ParseFloat(v, 64); err == nil {
		p[k] = f
	} else if b, err := strconv.ParseBool(v); err == nil {
		p[k] = b
	} else {
		p[k] = v
	}
	return nil
}

// cmdOllamaCreate is `runexp ollama-create`: register a GGUF file as a
// model on a running Ollama server, optionally load it. It stops at ctx's
// end or after --timeout.
func cmdOllamaCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ollama-create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setHelp(fs, "runexp ollama-create --gguf FILE --name NAME [flags]", "Registers a GGUF file as a model on a running Ollama server (blob upload,\nthen /api/create), and with --load loads it.")
	defURL := os.Getenv("OLLAMA_HOST")
	if defURL == "" {
		defURL = "127.0.0.1:11434"
	}
	url := fs.String("url", defURL, "server URL or host:port (default $OLLAMA_HOST)")
	gguf := fs.String("gguf", "", "GGUF file to register (required)")
	name := fs.String("name", "", "model name (required)")
	digest := fs.String("digest", "", "sha256 of the file if known (default: gengguf sidecar, else hash)")
	modelsDir := fs.String("models-dir", os.Getenv("OLLAMA_MODELS"), "server's OLLAMA_MODELS: hard-link the blob instead of uploading")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the server to answer GET /")
	timeout := fs.Duration("timeout", 30*time.Minute, "overall limit")
	load := fs.Bool("load", false, "load the model after creating it and report the load time")
	keepAlive := fs.String("keep-alive", "", "keep_alive for --load (e.g. 30m)")
	quiet := fs.Bool("q", false, "no progress messages")
	ps := ollamaParams{}
	fs.Var(ps, "param", "model parameter key=value (repeatable), e.g. temperature=0")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *gguf == "" || *name == "" || fs.NArg() > 0 {
		return exitcode.UsageError(errors.New("usage: ollama-create --gguf FILE --name NAME [--url URL] [--models-dir DIR]"))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := ollama.New(*url)
	wctx, wcancel := context.WithTimeout(ctx, *wait)
	err := c.WaitReady(wctx, 50*time.Millisecond)
	wcancel()
	if err != nil {
		return err
	}
	status := func(s string) {
		if !*quiet {
			fmt.Fprintln(stderr, "ollama-create:", s)
		}
	}
	opts := ollama.RegisterOptions{GGUF: *gguf, Name: *name, Digest: *digest, ModelsDir: *modelsDir, Status: status}
	if len(ps) > 0 {
		opts.Parameters = ps
	}
	res, err := c.Register(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model=%s digest=%s blob=%s create_s=%.3f\n", *name, res.Digest, res.How, res.Duration.Seconds())
	if *load {
		d, err := c.Load(ctx, *name, *keepAlive)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "model=%s load_s=%.3f\n", *name, d.Seconds())
	}
	return nil
}
