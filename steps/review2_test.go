package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
)

// TestReview2CrashedServerSetsidWorkerCleanedUp: product rule — a server
// that forks workers (including ones that call setsid) and then crashes is
// cleaned up with nothing left behind. The proc package documents that a
// setsid worker is found only if a snapshot (TreePIDs) saw it before its
// parent chain to the leader broke, and claims that "the runner" calls
// TreePIDs periodically. Nothing does: neither launch nor wait-ready (nor
// the runner) tracks the tree, so in the ordinary sequence launch →
// wait-ready (ready) → server crashes → point cleanup, the setsid worker
// (alive for the whole second the server served) is never seen and
// survives the point's cleanup.
func TestReview2CrashedServerSetsidWorkerCleanedUp(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	pidfile := filepath.Join(t.TempDir(), "grandchild.pid")
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", strconv.Itoa(port), "--fork-grandchild", "--grandchild-setsid",
		"--grandchild-pidfile", pidfile, "--exit-after", "1500ms"}
	l.Port = port
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

// TestReview2WaitReadyURLNoticesCrash: README — wait-ready "fails fast if
// the process exits"; product rule — a server that dies while waiting is
// reported at once with its exit status. When the step is given `url:`
// (e.g. to probe another path or interface of the launched server) and no
// `server:`, Run never looks up the launched server (waitready.go: the
// `if url == "" || w.Server != ""` branch), so done stays nil and a crashed
// server is polled until the step's timeout (10 minutes by default).
// Expected: with a server launched at the point, its exit is noticed even
// when url is set.
func TestReview2WaitReadyURLNoticesCrash(t *testing.T) {
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

// TestReview2WaitReadyExitStatusZero: a server that exits with status 0
// before it is ready must be reported with its exit status. ExitErr is nil
// for status 0, and waitready.go formats it with %v, so the error reads
// "server exited before it was ready (<nil>)" with no status at all.
func TestReview2WaitReadyExitStatusZero(t *testing.T) {
	env := newTestEnv(t)
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Shell = true
	l.Command = []string{"echo", "nothing to serve;", "exit", "0"}
	l.Port = freePort(t)
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

// TestReview2ExecBackgroundChildHoldingOutput: exec "runs a command to
// completion in its own group; records <id>_exit". A command that exits 0
// but leaves a background child holding its stdout (`sleep 30 &`) has
// completed: the step should succeed at once and the group cleanup should
// kill the child. Because stdout goes through a Go writer (multiWriter), os/exec
// copies it through a pipe and Wait waits for that pipe to close; after
// WaitDelay (5 s) Wait returns exec.ErrWaitDelay, which exec.go treats as a
// start failure: the step fails ("WaitDelay expired before I/O complete")
// after a 5 s stall even though the command exited with the expected code.
func TestReview2ExecBackgroundChildHoldingOutput(t *testing.T) {
	env := newTestEnv(t)
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	x := newExecStep("bg", "/bin/sh", "-c", "sleep 30 & echo $! > "+pidfile+"; echo started")
	start := time.Now()
	err := x.Run(context.Background(), env)
	d := time.Since(start)
	if b, rerr := os.ReadFile(pidfile); rerr == nil {
		child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
		waitFor(t, 2*time.Second, "the background child to die", func() bool { return !pidAlive(child) })
	}
	if err != nil {
		t.Errorf("exec of a command that exited 0 failed after %v: %v", d.Round(time.Millisecond), err)
	}
	if d > 2*time.Second {
		t.Errorf("exec took %v for a command that exits at once", d.Round(time.Millisecond))
	}
	if v := mustValue(t, env, "bg_exit"); v != 0 {
		t.Errorf("bg_exit %v", v)
	}
}
