package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	l.Port = Port(port)
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
	if err := runWithTimeout(&Teardown{ServerRef: ServerRef{Server: "server"}}, env, 10*time.Second); err != nil {
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
	l.Port = Port(port)
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

// A server that forks workers (setsid ones included) and then crashes is
// cleaned up with the point, nothing left behind, in the ordinary sequence
// launch → wait-ready (ready) → server crashes → point cleanup. The proc
// package finds a setsid worker only if a snapshot (TreePIDs) saw it before
// its parent chain to the leader broke, so the launched tree must be watched
// while the server runs.
func TestLaunchCleanupKillsSetsidWorkerOfACrashedServer(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	pidfile := filepath.Join(t.TempDir(), "grandchild.pid")
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", strconv.Itoa(port), "--fork-grandchild", "--grandchild-setsid",
		"--grandchild-pidfile", pidfile, "--exit-after", "1500ms"}
	l.Port = Port(port)
	l.StopGrace = spec.Duration(2 * time.Second)
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	s, _ := env.Server("server")
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatalf("wait-ready: %v", err)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	gc, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(func() { _ = syscall.Kill(gc, syscall.SIGKILL) }) // don't leak it from the test run
	// The server crashes (exit 4) while the point is still running.
	select {
	case <-s.Proc.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit")
	}
	for _, err := range env.RunCleanups(context.Background()) {
		t.Errorf("cleanup: %v", err)
	}
	waitFor(t, 3*time.Second, "setsid worker "+strconv.Itoa(gc)+" of the crashed server to be gone",
		func() bool { return !pidAlive(gc) })
}
