package ollama

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
)

type params map[string]any

func (p params) String() string { return fmt.Sprint(map[string]any(p)) }

// Set parses key=value; numbers and booleans keep their JSON type.
func (p params) Set(s string) error {
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

// CreateMain is the ollama-create command (also `runexp ollama-create`):
// register a GGUF file as a model on a running server, optionally load it.
// It returns the exit code.
func CreateMain(args []string, stdout, stderr io.Writer) int {
	err := runCreate(args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2 // the flag package has printed it
	}
	fmt.Fprintln(stderr, "ollama-create:", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var (
	errFlags = errors.New("bad flags")
	errUsage = errors.New("usage")
)

func runCreate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ollama-create", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	ps := params{}
	fs.Var(ps, "param", "model parameter key=value (repeatable), e.g. temperature=0")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errFlags, err)
	}
	if *gguf == "" || *name == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: ollama-create --gguf FILE --name NAME [--url URL] [--models-dir DIR]", errUsage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := New(*url)
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
	opts := RegisterOptions{GGUF: *gguf, Name: *name, Digest: *digest, ModelsDir: *modelsDir, Status: status}
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
