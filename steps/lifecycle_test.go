package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/spec"
)

// launch runs a launch step with id for the fake server on port.
func launch(t *testing.T, env *Env, id string, port int, args ...string) *Server {
	t.Helper()
	l := newLaunch().(*Launch)
	l.SetID(id)
	l.Command = append([]string{fakeServer, "--port", strconv.Itoa(port)}, args...)
	l.Port = port
	l.StopGrace = spec.Duration(5 * time.Second)
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatalf("launch: %v", err)
	}
	s, err := env.Server(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fastWait() *WaitReady {
	w := newWaitReady().(*WaitReady)
	w.Interval = spec.Duration(25 * time.Millisecond)
	return w
}

func runWithTimeout(st Step, env *Env, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return st.Run(ctx, env)
}

func TestLaunchWaitReadyLoadTeardown(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	s := launch(t, env, "server", port, "--start-delay", "300ms", "--max-model-len", "4096", "--log-lines")
	if s.URL != "http://127.0.0.1:"+strconv.Itoa(port) || s.LogPath != filepath.Join(env.PointDir, "server.log") {
		t.Errorf("server %+v", s)
	}
	if pid := mustValue(t, env, "server_pid"); pid != s.Proc.PID() {
		t.Errorf("server_pid %v, pid %d", pid, s.Proc.PID())
	}

	w := fastWait()
	w.JSONChecks = []JSONCheck{{Path: "/v1/models", Field: "data[0].max_model_len", Equals: 4096, Record: "served_max_model_len"}}
	if err := runWithTimeout(w, env, 10*time.Second); err != nil {
		t.Fatalf("wait-ready: %v", err)
	}
	if r := mustValue(t, env, "server_ready_s").(float64); r < 0.3 || r > 10 {
		t.Errorf("server_ready_s %v, the server took at least 0.3 s", r)
	}
	if v := mustValue(t, env, "served_max_model_len"); v != 4096.0 {
		t.Errorf("served_max_model_len %v", v)
	}

	// The default server of a load step is the launched one.
	ld := newLoad().(*Load)
	ld.SetID("load")
	ld.Model = "fake-model"
	ld.MaxTokens = 3
	ld.Modes = []LoadMode{{Kind: "sequential", Requests: 2}}
	if err := runWithTimeout(ld, env, 10*time.Second); err != nil {
		t.Fatalf("load: %v", err)
	}
	if v := mustValue(t, env, "sequential_completed"); v != 2 {
		t.Errorf("sequential_completed %v", v)
	}

	td := &Teardown{}
	if err := runWithTimeout(td, env, 10*time.Second); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if g := mustValue(t, env, "server_stop_graceful"); g != true {
		t.Errorf("server_stop_graceful %v", g)
	}
	stopS := mustValue(t, env, "server_stop_s").(float64)
	if s.Proc.Alive() {
		t.Error("server alive after teardown")
	}
	// Teardown again and the cleanup stack: safe, and the first report stays.
	if err := runWithTimeout(&Teardown{Server: "server"}, env, 10*time.Second); err != nil {
		t.Errorf("second teardown: %v", err)
	}
	if errs := env.RunCleanups(context.Background()); len(errs) > 0 {
		t.Errorf("cleanups: %v", errs)
	}
	if v := mustValue(t, env, "server_stop_s"); v != stopS {
		t.Errorf("server_stop_s changed from %v to %v", stopS, v)
	}
	log, _ := os.ReadFile(s.LogPath)
	for _, want := range []string{"GPU KV cache size: 1,234 tokens", "shutting down"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	assertNoLeftovers(t, binDir)
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

// A recognised engine failure in the log reads better than its last line.
func TestWaitReadyEngineFailureReason(t *testing.T) {
	env := newTestEnv(t)
	logFile, _ := filepath.Abs("testdata/vllm-kv-too-small.log")
	l := newLaunch().(*Launch)
	l.SetID("vllm")
	l.Shell = true
	l.Command = []string{"cat", logFile, ";", "exit", "1"}
	l.Port = freePort(t)
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

// BUG (steps/waitready.go:142): with `url:` (and no server) the base URL of
// json_checks is url minus len(path), which is only right when url ends in
// path; otherwise the checks go to a mangled URL.
func TestWaitReadyURLWithOtherPath(t *testing.T) {
	env := newTestEnv(t)
	ts := jsonServer(t)
	w := fastWait()
	w.URL = ts.URL + "/ready" // path keeps its default, /health
	w.JSONChecks = []JSONCheck{{Path: "/v1/models", Field: "data[0].max_model_len", Equals: 512}}
	if err := runWithTimeout(w, env, 5*time.Second); err != nil {
		t.Errorf("BUG: json check against url %s failed: %v", w.URL, err)
	}
}

func TestLaunchPortInUse(t *testing.T) {
	env := newTestEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", strconv.Itoa(port)}
	l.Port = port
	err = l.Run(context.Background(), env)
	var pe *proc.PortInUseError
	if !errors.As(err, &pe) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err %v (%T), want a *proc.PortInUseError", err, err)
	}
	want := fmt.Sprintf("port %d already in use by pid %d (", port, os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if len(env.Servers()) != 0 {
		t.Error("a server was registered")
	}
	if _, ok := env.Value("server_pid"); ok {
		t.Error("server_pid recorded")
	}
	assertNoLeftovers(t, binDir)
}

func TestLaunchStartError(t *testing.T) {
	env := newTestEnv(t)
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{filepath.Join(t.TempDir(), "no-such-server")}
	err := l.Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "start "+l.Command[0]) {
		t.Errorf("err %v", err)
	}
	if len(env.Servers()) != 0 {
		t.Error("a server was registered")
	}
}

// A server without a port, in a shell, with extra env and the point folder
// as its working directory; the cleanup stack stops it.
func TestLaunchShellEnvDir(t *testing.T) {
	env := newTestEnv(t)
	l := newLaunch().(*Launch)
	l.SetID("svc")
	l.Shell = true
	l.Env["FOO"] = "bar baz"
	l.Command = []string{`echo "order=$CUDA_DEVICE_ORDER foo=$FOO"; pwd; exec sleep 30`}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	s, _ := env.Server("")
	if s.URL != "" || s.Port != 0 {
		t.Errorf("server without port has URL %q", s.URL)
	}
	logFile := filepath.Join(env.PointDir, "svc.log")
	var text string
	waitFor(t, 5*time.Second, "the log", func() bool {
		b, _ := os.ReadFile(logFile)
		text = string(b)
		return strings.Count(text, "\n") >= 2
	})
	dir, _ := filepath.EvalSymlinks(env.PointDir)
	if !strings.Contains(text, "order=PCI_BUS_ID foo=bar baz") || !strings.Contains(text, dir) {
		t.Errorf("log:\n%s", text)
	}
	pid := s.Proc.PID()
	if errs := env.RunCleanups(context.Background()); len(errs) > 0 {
		t.Fatal(errs)
	}
	if pidAlive(pid) {
		t.Errorf("pid %d alive after cleanups", pid)
	}
	if g := mustValue(t, env, "svc_stop_graceful"); g != true {
		t.Errorf("svc_stop_graceful %v", g)
	}
}

// A server that ignores SIGTERM and leaves a grandchild is killed, all of it,
// after stop_grace.
func TestTeardownKillsStubbornTree(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	pidfile := filepath.Join(t.TempDir(), "grandchild.pid")
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", strconv.Itoa(port), "--ignore-sigterm", "--fork-grandchild", "--grandchild-pidfile", pidfile}
	l.Port = port
	l.StopGrace = spec.Duration(200 * time.Millisecond)
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	start := time.Now()
	if err := runWithTimeout(&Teardown{Server: "server"}, env, 10*time.Second); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("teardown took %v", d)
	}
	if g := mustValue(t, env, "server_stop_graceful"); g != false {
		t.Errorf("server_stop_graceful %v, want false", g)
	}
	if pidAlive(grandchild) {
		t.Errorf("grandchild %d survived teardown", grandchild)
	}
	assertNoLeftovers(t, binDir)
}

func TestTeardownUnknownServer(t *testing.T) {
	env := newTestEnv(t)
	if err := (&Teardown{}).Run(context.Background(), env); err == nil {
		t.Error("teardown without a server succeeded")
	}
	env.AddServer(&Server{ID: "a"})
	if err := (&Teardown{Server: "b"}).Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("err %v", err)
	}
}
