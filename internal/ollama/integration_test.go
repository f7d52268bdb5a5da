package ollama

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gguf"
)

// TestRealOllama runs against a real Ollama binary when RUNEXP_OLLAMA_BIN
// names one (scripts/install-ollama.sh prints its path):
//
//	RUNEXP_OLLAMA_BIN=$(scripts/install-ollama.sh) go test -run RealOllama ./internal/ollama/
//
// It generates a tiny model, registers it by hard link, checks that every
// streamed completion is exactly max_tokens long with four parallel slots,
// reads the KV buffer line, and checks the process-group facts teardown
// relies on.
func TestRealOllama(t *testing.T) {
	bin := os.Getenv("RUNEXP_OLLAMA_BIN")
	if bin == "" {
		t.Skip("RUNEXP_OLLAMA_BIN not set")
	}
	dir := t.TempDir()
	shape := gguf.Presets["tiny"]
	model := filepath.Join(dir, "tiny.gguf")
	info, err := gguf.WriteFile(model, gguf.Options{Shape: shape, Name: "random-llama-tiny", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.WriteInfo(model+".json", info); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const ctxLen, parallel = 512, 4
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"OLLAMA_HOST="+addr, "OLLAMA_MODELS="+filepath.Join(dir, "models"), "HOME="+dir,
		"OLLAMA_CONTEXT_LENGTH="+strconv.Itoa(ctxLen), "OLLAMA_NUM_PARALLEL="+strconv.Itoa(parallel))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	groupGone := false
	t.Cleanup(func() {
		if !groupGone { // never signal a group id that may have been reused
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := New(addr)
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready after %v", time.Since(start))
	res, err := c.Register(ctx, RegisterOptions{GGUF: model, Name: "tiny", ModelsDir: filepath.Join(dir, "models")})
	if err != nil {
		t.Fatal(err)
	}
	if res.How != "linked" || res.Digest != "sha256:"+info.SHA256 {
		t.Errorf("register %+v, want linked %s", res, info.SHA256)
	}
	t.Logf("create took %v", res.Duration)
	load, err := c.Load(ctx, "tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load took %v", load)

	const maxTokens = 16
	var wg sync.WaitGroup
	errs := make([]error, parallel)
	for i := range parallel {
		wg.Go(func() { errs[i] = streamExactly(ctx, c, "tiny", i, maxTokens) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}

	// The runner is a child of serve, in serve's process group.
	kids := children(t, pgid)
	if len(kids) == 0 {
		t.Fatalf("no runner child of %d", pgid)
	}
	for _, k := range kids {
		if g, _ := syscall.Getpgid(k); g != pgid {
			t.Errorf("runner %d in group %d, not %d", k, g, pgid)
		}
	}

	// SIGKILL of serve alone orphans the runner; killing the group ends it.
	syscall.Kill(pgid, syscall.SIGKILL)
	<-waited
	time.Sleep(300 * time.Millisecond)
	if syscall.Kill(-pgid, 0) != nil {
		t.Log("note: runner exited with serve (group empty)")
	} else {
		t.Logf("runner survived SIGKILL of serve, as expected; killing group %d", pgid)
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still alive", pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	groupGone = true

	logb, _ := os.ReadFile(logf.Name())
	m := regexp.MustCompile(`llama_kv_cache:\s+(\S+) KV buffer size =\s+([0-9.]+) MiB`).FindSubmatch(logb)
	if m == nil {
		t.Fatal("no KV buffer line in serve log")
	}
	got, _ := strconv.ParseFloat(string(m[2]), 64)
	want := float64(shape.KVBytesPerToken(2)*ctxLen*parallel) / (1 << 20)
	if got != want {
		t.Errorf("KV buffer %v MiB, want %v", got, want)
	}
	t.Logf("log: %s", m[0])
}

// streamExactly sends a streaming /v1/completions request and checks the
// reply has exactly n non-empty text chunks, finish_reason "length" and
// usage.completion_tokens n (usage is read from the chunk with no choices:
// the others carry all-zero usage).
func streamExactly(ctx context.Context, c *Client, model string, i, n int) error {
	body, _ := json.Marshal(map[string]any{
		"model": model, "prompt": "Story " + strconv.Itoa(i) + ": once upon a time",
		"max_tokens": n, "stream": true, "stream_options": map[string]any{"include_usage": true},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/completions"), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	texts, finish, usage := 0, "", -1
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &ch); err != nil {
			return err
		}
		if len(ch.Choices) == 0 {
			usage = ch.Usage.CompletionTokens
			continue
		}
		if ch.Choices[0].Text != "" {
			texts++
		}
		if ch.Choices[0].FinishReason != nil {
			finish = *ch.Choices[0].FinishReason
		}
	}
	if texts != n || finish != "length" || usage != n {
		return errors.New("got " + strconv.Itoa(texts) + " text chunks, finish " + finish + ", usage " + strconv.Itoa(usage))
	}
	return nil
}

// children lists the pids whose parent is pid (from /proc).
func children(t *testing.T, pid int) []int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
