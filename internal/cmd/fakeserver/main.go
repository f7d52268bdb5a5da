// Command fakeserver stands in for an LLM server (vLLM's OpenAI-compatible
// HTTP API) in tests of process lifecycle and of the runner, like go-task's
// sleepit. It is a test helper, not a product.
//
// It serves GET /health, GET /v1/models and POST /v1/completions on
// 127.0.0.1:--port, and can misbehave on request: start slowly, crash at
// start (exit 3), never become ready, ignore SIGTERM, fork a grandchild that
// sleeps forever (optionally in its own session), and exit mid-run (exit 4).
// On SIGTERM or SIGINT (unless SIGTERM is ignored) it prints "shutting down"
// and exits 0, leaving any grandchild behind on purpose.
//
// Tokens are whitespace-separated words, one generated token is " fake".
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitCrashStart = 3
	exitCrashRun   = 4
)

// kvCacheTokens is what --log-lines reports as the KV cache size.
const kvCacheTokens = 1234

type config struct {
	port              int
	startDelay        time.Duration
	crashAtStart      bool
	neverReady        bool
	ignoreSIGTERM     bool
	forkGrandchild    bool
	grandchildPidfile string
	grandchildSetsid  bool
	exitAfter         time.Duration
	maxModelLen       int
	model             string
	logLines          bool
	grandchild        bool // hidden: run as the grandchild
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fakeserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.port, "port", 0, "TCP port on 127.0.0.1 (required)")
	fs.DurationVar(&c.startDelay, "start-delay", 0, "sleep this long before listening")
	fs.BoolVar(&c.crashAtStart, "crash-at-start", false, "print an error and exit 3 before listening")
	fs.BoolVar(&c.neverReady, "never-ready", false, "listen, but answer 503 forever")
	fs.BoolVar(&c.ignoreSIGTERM, "ignore-sigterm", false, "ignore SIGTERM (in the grandchild too)")
	fs.BoolVar(&c.forkGrandchild, "fork-grandchild", false, "start a child that sleeps forever")
	fs.StringVar(&c.grandchildPidfile, "grandchild-pidfile", "", "the grandchild writes its pid here")
	fs.BoolVar(&c.grandchildSetsid, "grandchild-setsid", false, "the grandchild calls setsid, leaving the process group")
	fs.DurationVar(&c.exitAfter, "exit-after", 0, "exit with code 4 after serving this long")
	fs.IntVar(&c.maxModelLen, "max-model-len", 4096, "reported max_model_len")
	fs.StringVar(&c.model, "model", "fake-model", "model name")
	fs.BoolVar(&c.logLines, "log-lines", false, "print vLLM-like startup lines")
	fs.BoolVar(&c.grandchild, "grandchild", false, "internal: run as the grandchild")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if !c.grandchild && (c.port <= 0 || c.port > 65535) {
		return c, errors.New("--port N (1-65535) is required")
	}
	if c.maxModelLen <= 0 {
		return c, errors.New("--max-model-len must be positive")
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fakeserver: %v\n", err)
		return exitUsage
	}
	if cfg.grandchild {
		return runGrandchild(cfg, stdout, stderr)
	}

	sigs := make(chan os.Signal, 1)
	if cfg.ignoreSIGTERM {
		signal.Ignore(syscall.SIGTERM)
		signal.Notify(sigs, os.Interrupt)
	} else {
		signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	}
	go func() {
		s := <-sigs
		fmt.Fprintf(stdout, "fakeserver: got %v, shutting down\n", s)
		os.Exit(exitOK)
	}()

	fmt.Fprintf(stdout, "fakeserver: pid %d starting (model %s, max_model_len %d)\n", os.Getpid(), cfg.model, cfg.maxModelLen)
	if cfg.logLines {
		printLogLines(stdout, cfg)
	}
	if cfg.forkGrandchild {
		pid, err := forkGrandchild(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: fork grandchild: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "fakeserver: grandchild pid %d\n", pid)
	}
	if cfg.startDelay > 0 {
		time.Sleep(cfg.startDelay)
	}
	if cfg.crashAtStart {
		fmt.Fprintln(stderr, "ERROR: fake crash at startup")
		return exitCrashStart
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port)))
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return exitError
	}
	if cfg.exitAfter > 0 {
		time.AfterFunc(cfg.exitAfter, func() {
			fmt.Fprintf(stderr, "ERROR: fake crash after serving for %v\n", cfg.exitAfter)
			os.Exit(exitCrashRun)
		})
	}
	fmt.Fprintf(stdout, "INFO:     Uvicorn running on http://127.0.0.1:%d (Press CTRL+C to quit)\n", cfg.port)
	srv := &http.Server{Handler: newHandler(cfg), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return exitError
	}
	return exitOK
}

func printLogLines(w io.Writer, cfg config) {
	ts := time.Now().Format("01-02 15:04:05")
	lines := []string{
		"[api_server.py:1000] vLLM API server version 0.0.0+fake",
		fmt.Sprintf("[api_server.py:1001] args: model=%q, max_model_len=%d, port=%d", cfg.model, cfg.maxModelLen, cfg.port),
		"[gpu_model_runner.py:1200] Model loading took 7.1234 GiB and 3.21 seconds",
		"[kv_cache_utils.py:700] GPU KV cache size: 1,234 tokens",
		fmt.Sprintf("[kv_cache_utils.py:701] Maximum concurrency for %d tokens per request: %.2fx",
			cfg.maxModelLen, float64(kvCacheTokens)/float64(cfg.maxModelLen)),
		fmt.Sprintf("[api_server.py:1100] Starting vLLM API server on http://127.0.0.1:%d", cfg.port),
	}
	for _, l := range lines {
		fmt.Fprintf(w, "INFO %s %s\n", ts, l)
	}
}

// forkGrandchild re-executes this binary with --grandchild and waits until
// the child has set up its signal disposition and pid file, so that a test
// that sees the server ready can rely on the grandchild being in place.
func forkGrandchild(cfg config) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	args := []string{"--grandchild"}
	if cfg.ignoreSIGTERM {
		args = append(args, "--ignore-sigterm")
	}
	if cfg.grandchildPidfile != "" {
		args = append(args, "--grandchild-pidfile", cfg.grandchildPidfile)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w} // fd 3: readiness
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: cfg.grandchildSetsid}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, err
	}
	go cmd.Wait() // reap it if it dies while we run
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.Read(make([]byte, 1)); err != nil {
		return 0, fmt.Errorf("grandchild %d did not report ready: %w", cmd.Process.Pid, err)
	}
	return cmd.Process.Pid, nil
}

func runGrandchild(cfg config, stdout, stderr io.Writer) int {
	if cfg.ignoreSIGTERM {
		signal.Ignore(syscall.SIGTERM)
	}
	if cfg.grandchildPidfile != "" {
		if err := writeFileAtomic(cfg.grandchildPidfile, strconv.Itoa(os.Getpid())+"\n"); err != nil {
			fmt.Fprintf(stderr, "ERROR: grandchild pidfile: %v\n", err)
			return exitError
		}
	}
	fmt.Fprintf(stdout, "fakeserver: grandchild pid %d pgid %d sleeping\n", os.Getpid(), syscall.Getpgrp())
	if ready := os.NewFile(3, "ready"); ready != nil {
		_, _ = ready.Write([]byte{'1'})
		ready.Close()
	}
	for {
		time.Sleep(time.Hour)
	}
}

func writeFileAtomic(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fakeserver-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// HTTP API.

type completionRequest struct {
	Model     string          `json:"model"`
	Prompt    json.RawMessage `json:"prompt"`
	MaxTokens *int            `json:"max_tokens"`
	Stream    bool            `json:"stream"`
}

type choice struct {
	Index        int     `json:"index"`
	Text         string  `json:"text"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
}

const defaultMaxTokens = 16

func newHandler(cfg config) http.Handler {
	mux := http.NewServeMux()
	notReady := func(w http.ResponseWriter) bool {
		if cfg.neverReady {
			writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableError", "model is still loading")
			return true
		}
		return false
	}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if notReady(w) {
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		if notReady(w) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"object": "list",
			"data": []map[string]any{{
				"id":            cfg.model,
				"object":        "model",
				"owned_by":      "fakeserver",
				"max_model_len": cfg.maxModelLen,
			}},
		})
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		if notReady(w) {
			return
		}
		handleCompletion(w, r, cfg)
	})
	return mux
}

func handleCompletion(w http.ResponseWriter, r *http.Request, cfg config) {
	var req completionRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON body: "+err.Error())
		return
	}
	if req.Model != "" && req.Model != cfg.model {
		writeError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	prompts, err := parsePrompt(req.Prompt)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return
	}
	maxTokens := defaultMaxTokens
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	if maxTokens < 1 {
		writeError(w, http.StatusBadRequest, "BadRequestError", "max_tokens must be at least 1")
		return
	}
	promptTokens := 0
	for _, p := range prompts {
		n := len(strings.Fields(p))
		if n+maxTokens > cfg.maxModelLen {
			writeError(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf(
				"This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
				cfg.maxModelLen, n+maxTokens, n, maxTokens))
			return
		}
		promptTokens += n
	}
	resp := completion{
		ID:      fmt.Sprintf("cmpl-fake-%d", time.Now().UnixNano()),
		Object:  "text_completion",
		Created: time.Now().Unix(),
		Model:   cfg.model,
	}
	length := "length"
	if req.Stream {
		streamCompletion(w, resp, len(prompts), maxTokens, &length)
		return
	}
	for i := range prompts {
		resp.Choices = append(resp.Choices, choice{Index: i, Text: strings.Repeat(" fake", maxTokens), FinishReason: &length})
	}
	completionTokens := maxTokens * len(prompts)
	resp.Usage = &usage{PromptTokens: promptTokens, CompletionTokens: completionTokens, TotalTokens: promptTokens + completionTokens}
	writeJSON(w, http.StatusOK, resp)
}

// streamCompletion writes one server-sent event per token and prompt, then
// "data: [DONE]".
func streamCompletion(w http.ResponseWriter, base completion, nPrompts, maxTokens int, finish *string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	for t := range maxTokens {
		for i := range nPrompts {
			c := choice{Index: i, Text: " fake"}
			if t == maxTokens-1 {
				c.FinishReason = finish
			}
			chunk := base
			chunk.Choices = []choice{c}
			b, _ := json.Marshal(chunk)
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func parsePrompt(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, errors.New("prompt is required")
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err == nil && len(many) > 0 {
		return many, nil
	}
	return nil, errors.New("prompt must be a string or a non-empty list of strings")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{
		"object": "error", "message": msg, "type": typ, "param": nil, "code": status,
	})
}
