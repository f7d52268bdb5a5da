package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
)

// fastWait is a wait-ready step polling every 25 ms, so tests end quickly.
func fastWait() *WaitReady {
	w := newWaitReady().(*WaitReady)
	w.Interval = spec.Duration(25 * time.Millisecond)
	return w
}

// jsonServer serves /ready (200) and vLLM-like /v1/models.
func jsonServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[{"id":"m","max_model_len":512}]}`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func TestWaitReadyCrashFailsFast(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	launch(t, env, "server", port, "--crash-at-start", "--start-delay", "100ms")
	start := time.Now()
	err := runWithTimeout(fastWait(), env, 30*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err %v, want ErrExited", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to notice the crash", d)
	}
	for _, want := range []string{"exit status 3", "ERROR: fake crash at startup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, ok := env.Value("server_ready_s"); ok {
		t.Error("ready_s recorded for a crashed server")
	}
	env.RunCleanups(context.Background())
	assertNoLeftovers(t, binDir)
}

// README: wait-ready "fails fast if the process exits". That holds when the
// step is given `url:` (to probe another path or interface of the launched
// server) and no `server:` too: the server launched at the point is watched,
// and its crash is reported at once with its exit status instead of being
// polled until the step's timeout.
func TestWaitReadyWithURLFailsFastWhenTheLaunchedServerCrashes(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	launch(t, env, "server", port, "--crash-at-start", "--start-delay", "100ms")
	w := fastWait()
	w.URL = "http://127.0.0.1:" + strconv.Itoa(port) + "/v1/models"
	start := time.Now()
	err := runWithTimeout(w, env, 4*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err %v after %v, want ErrExited (the launched server crashed with exit status 3)", err, time.Since(start).Round(time.Millisecond))
	}
	if !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("error %q lacks the exit status", err)
	}
}

// A server that exits with status 0 before it is ready is reported with its
// exit status ("exit status 0"), never as "<nil>".
func TestWaitReadyReportsExitStatusZeroOfAServerThatQuit(t *testing.T) {
	env := newTestEnv(t)
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Shell = true
	l.Command = []string{"echo", "nothing to serve;", "exit", "0"}
	l.Port = Port(freePort(t))
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	err := runWithTimeout(fastWait(), env, 10*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err %v, want ErrExited", err)
	}
	if strings.Contains(err.Error(), "<nil>") || !strings.Contains(err.Error(), "exit status 0") {
		t.Errorf("error %q: want the exit status (exit status 0), not <nil>", err)
	}
}

// wait-ready with `url:` (no server) watches the last launched server so that
// its death ends the wait; but a server that had already exited (or was
// stopped by a teardown step) before the wait began is not watched: the probe
// of the url decides, and the wait does not fail with "server exited before it
// was ready".
func TestWaitReadyWithURLIgnoresAServerAlreadyTornDown(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	launch(t, env, "server", port)
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatalf("wait-ready: %v", err)
	}
	td := newTeardown().(*Teardown)
	if err := runWithTimeout(td, env, 20*time.Second); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	// Another server (started by other means) that is ready after 300 ms.
	var probes atomic.Int64
	start := time.Now()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if time.Since(start) < 300*time.Millisecond {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer other.Close()
	w := fastWait()
	w.URL = other.URL + "/health"
	err := runWithTimeout(w, env, 5*time.Second)
	if errors.Is(err, ErrExited) {
		t.Fatalf("wait-ready for %s failed after %d probe(s) because the torn-down server had exited: %v", w.URL, probes.Load(), err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A recognised engine failure in the log reads better than its last line.
func TestWaitReadyEngineFailureReason(t *testing.T) {
	env := newTestEnv(t)
	logFile, _ := filepath.Abs("testdata/vllm-kv-too-small.log")
	l := newLaunch().(*Launch)
	l.SetID("vllm")
	l.Shell = true
	l.Command = []string{"cat", logFile, ";", "exit", "1"}
	l.Port = Port(freePort(t))
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	err := runWithTimeout(fastWait(), env, 30*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err %v, want ErrExited", err)
	}
	if !strings.Contains(err.Error(), "KV cache too small: max_model_len 131072") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("error %q", err)
	}
}

func TestWaitReadyTimeoutAndCancel(t *testing.T) {
	env := newTestEnv(t)
	launch(t, env, "server", freePort(t), "--never-ready")
	// expect_status: "ready" may mean any status; this also waits until it listens.
	up := fastWait()
	up.ExpectStatus = 503
	if err := runWithTimeout(up, env, 10*time.Second); err != nil {
		t.Fatalf("expect_status 503: %v", err)
	}
	err := runWithTimeout(fastWait(), env, 300*time.Millisecond)
	if err == nil || errors.Is(err, ErrExited) || err.Error() != "not ready (last probe: HTTP 503)" {
		t.Errorf("deadline: %v", err)
	}
	cause := errors.New("interrupted by test")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(cause) })
	if err := fastWait().Run(ctx, env); !errors.Is(err, cause) {
		t.Errorf("cancel: %v, want the cause", err)
	}
}

func TestWaitReadyJSONChecks(t *testing.T) {
	env := newTestEnv(t)
	launch(t, env, "server", freePort(t), "--max-model-len", "2048")
	cases := []struct {
		check JSONCheck
		want  string // "" = passes
	}{
		{JSONCheck{Path: "/v1/models", Field: "data[0].max_model_len", Equals: "2048"}, ""},
		{JSONCheck{Path: "/v1/models", Field: "data[0].id", Equals: "fake-model"}, ""},
		{JSONCheck{Path: "/v1/models", Field: "data[0].max_model_len", Equals: 4096, Record: "mml"},
			"json check /v1/models: data[0].max_model_len is 2048, expected 4096"},
		{JSONCheck{Path: "/v1/models", Field: "data[0].nope"}, `json check /v1/models data[0].nope: no field "nope"`},
		{JSONCheck{Path: "/health", Field: "x"}, "json check /health: HTTP 200, body is not JSON"},
	}
	for _, c := range cases {
		w := fastWait()
		w.JSONChecks = []JSONCheck{c.check}
		err := runWithTimeout(w, env, 10*time.Second)
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.check, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.check, err, c.want)
		}
	}
	// The value is recorded even when it does not match, for the report.
	if v := mustValue(t, env, "mml"); v != 2048.0 {
		t.Errorf("mml %v", v)
	}
}

func TestWaitReadyNeedsAServerOrURL(t *testing.T) {
	env := newTestEnv(t)
	if err := runWithTimeout(fastWait(), env, time.Second); err == nil || !strings.Contains(err.Error(), "no server has been launched") {
		t.Errorf("no server: %v", err)
	}
	env.AddServer(&Server{ID: "s"})
	if err := runWithTimeout(fastWait(), env, time.Second); err == nil || !strings.Contains(err.Error(), "server s declared no port; give wait-ready a url") {
		t.Errorf("no port: %v", err)
	}
	w := fastWait()
	w.Server = "other"
	if err := runWithTimeout(w, env, time.Second); err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("unknown server: %v", err)
	}
}

// A url whose path is the default path: json_checks go to the same host.
func TestWaitReadyURLWithDefaultPath(t *testing.T) {
	env := newTestEnv(t)
	ts := jsonServer(t)
	w := fastWait()
	w.URL = ts.URL + "/health"
	w.JSONChecks = []JSONCheck{{Path: "/v1/models", Field: "data[0].max_model_len", Equals: 512}}
	if err := runWithTimeout(w, env, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.Value("ready_s"); !ok {
		t.Errorf("ready_s not recorded (values %v)", env.Values().Keys())
	}
}

// With `url:` (and no server) json_checks go to the url's scheme and host,
// whether or not the url ends in `path`.
func TestWaitReadyJSONChecksGoToTheHostOfAURLWithAnyPath(t *testing.T) {
	env := newTestEnv(t)
	ts := jsonServer(t)
	w := fastWait()
	w.URL = ts.URL + "/ready" // path keeps its default, /health
	w.JSONChecks = []JSONCheck{{Path: "/v1/models", Field: "data[0].max_model_len", Equals: 512}}
	if err := runWithTimeout(w, env, 5*time.Second); err != nil {
		t.Errorf("json check against url %s failed: %v", w.URL, err)
	}
}

func TestJSONField(t *testing.T) {
	var doc any
	json.Unmarshal([]byte(`{"object":"list","data":[{"id":"m","max_model_len":512,"tags":["a","b"]}],"n":{"x":null}}`), &doc)
	var arr any
	json.Unmarshal([]byte(`[[1,2],[3]]`), &arr)
	cases := []struct {
		doc     any
		field   string
		want    any
		wantErr string
	}{
		{doc, "data[0].max_model_len", 512.0, ""},
		{doc, "data[0].id", "m", ""},
		{doc, "data[0].tags[1]", "b", ""},
		{doc, "object", "list", ""},
		{doc, "n.x", nil, ""},
		{doc, "", doc, ""},
		{arr, "[1][0]", 3.0, ""},
		{doc, "missing", nil, `no field "missing"`},
		{doc, "data[0].nope", nil, `no field "nope"`},
		{doc, "data[1].id", nil, "no element [1]"},
		{doc, "data[-1]", nil, "no element [-1]"},
		{doc, "data[x]", nil, "no element [x]"},
		{doc, "object[0]", nil, "no element [0]"},
		{doc, "object.len", nil, "not an object"},
		{arr, "x", nil, "not an object"},
	}
	for _, c := range cases {
		got, err := JSONField(c.doc, c.field)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("JSONField(%q) error %v, want %q", c.field, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("JSONField(%q): %v", c.field, err)
			continue
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(c.want)
		if string(gb) != string(wb) {
			t.Errorf("JSONField(%q) = %s, want %s", c.field, gb, wb)
		}
	}
}

func TestLooseEqual(t *testing.T) {
	cases := []struct {
		a, b any
		want bool
	}{
		{512.0, 512, true},
		{512.0, "512", true},
		{512, 512.0, true},
		{512.0, int64(512), true},
		{512.0, uint64(512), true},
		{json.Number("512"), 512, true},
		{512.5, 512, false},
		{512.0, "513", false},
		{"abc", "abc", true},
		{"abc", "ABC", false},
		{true, "true", true},
		{true, false, false},
		{0.1, 0.1, true},
	}
	for _, c := range cases {
		if got := looseEqual(c.a, c.b); got != c.want {
			t.Errorf("looseEqual(%#v, %#v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestFailureLine(t *testing.T) {
	cases := []struct{ tail, want string }{
		{"starting\nERROR: bad thing\nshutting down\n", "ERROR: bad thing"},
		{"a\nValueError: x\nRuntimeError: y\nbye\n", "RuntimeError: y"},
		{"torch.OutOfMemoryError: CUDA Out Of Memory\ndone", "torch.OutOfMemoryError: CUDA Out Of Memory"},
		{"Traceback\nException in thread\n\n", "Exception in thread"},
		{"one\ntwo\n\n   \n", "two"},
		{"", ""},
		{"  \n \n", ""},
	}
	for _, c := range cases {
		if got := failureLine(c.tail); got != c.want {
			t.Errorf("failureLine(%q) = %q, want %q", c.tail, got, c.want)
		}
	}
	long := "error: " + strings.Repeat("x", 400)
	got := failureLine(long)
	if len(got) != 300 || !strings.HasSuffix(got, "...") {
		t.Errorf("long line: len %d, %q...", len(got), got[:20])
	}
}
