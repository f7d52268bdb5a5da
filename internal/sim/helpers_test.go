package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
)

// Re-exec hook: with RUNEXP_SIM_TEST_ARGS set, the test binary is a
// `runexp sim serve` process (arguments separated by \x1f).
const testArgsEnv = "RUNEXP_SIM_TEST_ARGS"

func TestMain(m *testing.M) {
	if a, ok := os.LookupEnv(testArgsEnv); ok {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		code := serveArgs(ctx, strings.Split(a, "\x1f"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type syncBuffer = testutil.Buffer

// simServer is an in-process simulated server.
type simServer struct {
	url      string
	stateDir string
	stdout   *syncBuffer
	stderr   *syncBuffer
	cancel   context.CancelFunc
	exited   chan struct{} // closed when Serve returned
	exitCode int           // valid once exited is closed
}

// wait returns the exit code once Serve returned.
func (s *simServer) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.exited:
		return s.exitCode
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
		return -1
	}
}

// stop shuts the server down and returns its exit code.
func (s *simServer) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	return s.wait(t)
}

// runSim runs Serve with args (plus --port 0 and, unless given, a zero
// startup delay) until it is ready or exits. ready reports which.
func runSim(t *testing.T, args ...string) (s *simServer, ready bool) {
	t.Helper()
	return runSimIn(t, t.TempDir(), args...)
}

// runSimIn is runSim with a given GPU state directory.
func runSimIn(t *testing.T, stateDir string, args ...string) (s *simServer, ready bool) {
	t.Helper()
	all := append([]string{"--port", "0", "--startup-delay", "0"}, args...)
	o, err := ParseArgs(all)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", all, err)
	}
	o.StateDir = stateDir
	addr := make(chan string, 1)
	o.ready = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	s = &simServer{stateDir: o.StateDir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, exited: make(chan struct{})}
	go func() {
		s.exitCode = serve(ctx, o, s.stdout, s.stderr)
		close(s.exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
		return s, true
	case <-s.exited:
		return s, false
	case <-time.After(20 * time.Second):
		t.Fatalf("server neither ready nor exited; log:\n%s", s.stdout)
		return nil, false
	}
}

// startSim is runSim for a server that must start.
func startSim(t *testing.T, args ...string) *simServer {
	t.Helper()
	return startSimIn(t, t.TempDir(), args...)
}

// startSimIn is runSimIn for a server that must start.
func startSimIn(t *testing.T, stateDir string, args ...string) *simServer {
	t.Helper()
	s, ok := runSimIn(t, stateDir, args...)
	if !ok {
		t.Fatalf("server exited with %d; log:\n%s\nstderr:\n%s", s.exitCode, s.stdout, s.stderr)
	}
	return s
}

func postJSON(t *testing.T, url string, body any) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

// sseChunk is the union of completion and chat chunks.
type sseChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int     `json:"index"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Delta        *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// readSSE reads an OpenAI SSE stream: the data events up to [DONE]; done
// reports whether [DONE] came.
func readSSE(r io.Reader) (events []sseChunk, done bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			return events, false, fmt.Errorf("unexpected SSE line %q", line)
		}
		if data == "[DONE]" {
			return events, true, sc.Err()
		}
		var c sseChunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return events, false, fmt.Errorf("chunk %q: %w", data, err)
		}
		events = append(events, c)
	}
	return events, false, sc.Err()
}

// serveArgs is `runexp sim serve args...` without the command line's
// signal handling: it returns the server's exit code (2 for bad arguments).
func serveArgs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	return serve(ctx, o, stdout, stderr)
}
