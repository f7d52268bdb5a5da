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

func newExecStep(id string, command ...string) *Exec {
	x := newExec().(*Exec)
	x.SetID(id)
	x.Command = command
	return x
}

func TestExecExitCodeAndRecord(t *testing.T) {
	env := newTestEnv(t)
	x := newExecStep("probe", "/bin/sh", "-c", `echo "  hello $FOO"; pwd; echo oops >&2; exit 3`)
	x.Env = map[string]string{"FOO": "world"}
	x.ExpectExit = 3
	x.Record = "probe_out"
	if err := x.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := x.Run(context.Background(), env); err != nil {
		t.Fatalf("expected exit 3: %v", err)
	}
	if v := mustValue(t, env, "probe_exit"); v != 3 {
		t.Errorf("probe_exit %v", v)
	}
	out := mustValue(t, env, "probe_out").(string)
	dir, _ := filepath.EvalSymlinks(env.PointDir)
	if !strings.HasPrefix(out, "hello world\n") || !strings.Contains(out, dir) || !strings.HasSuffix(out, "oops") {
		t.Errorf("recorded output %q", out)
	}
	log, _ := os.ReadFile(filepath.Join(env.PointDir, "probe.log"))
	if !strings.Contains(string(log), "hello world") || !strings.Contains(string(log), "oops") {
		t.Errorf("log %q", log)
	}
}

func TestExecUnexpectedExit(t *testing.T) {
	env := newTestEnv(t)
	x := newExecStep("check", "/bin/sh", "-c", "echo first; echo last line; exit 2")
	err := x.Run(context.Background(), env)
	if err == nil || err.Error() != "/bin/sh exited with 2 (expected 0): last line" {
		t.Errorf("err %v", err)
	}
	if v := mustValue(t, env, "check_exit"); v != 2 {
		t.Errorf("check_exit %v", v)
	}
}

func TestExecShellAndDir(t *testing.T) {
	env := newTestEnv(t)
	dir := t.TempDir()
	x := newExecStep("sh", "echo", "$((6*7))", "&&", "pwd")
	x.Shell = true
	x.Dir = dir
	x.Record = "out"
	if err := x.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if out := mustValue(t, env, "out"); out != "42\n"+real {
		t.Errorf("out %q", out)
	}
}

func TestExecRecordKeepsTail(t *testing.T) {
	env := newTestEnv(t)
	x := newExecStep("big", "/bin/sh", "-c", `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done`)
	x.Record = "out"
	if err := x.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	out := mustValue(t, env, "out").(string)
	if len(out) > 4096 || !strings.HasSuffix(out, "line 1999") {
		t.Errorf("recorded %d bytes ending %q", len(out), out[len(out)-20:])
	}
}

func TestExecNotFound(t *testing.T) {
	env := newTestEnv(t)
	x := newExecStep("nf", filepath.Join(t.TempDir(), "missing"))
	err := x.Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("err %v", err)
	}
	if v := mustValue(t, env, "nf_exit"); v != -1 {
		t.Errorf("nf_exit %v", v)
	}
}

// On timeout the whole group is killed at once, a background child included,
// and the error says the deadline passed (errors.Is context.DeadlineExceeded)
// rather than "exited with -1 (expected 0)", so expect_exit: -1 cannot pass
// on a timeout.
func TestExecTimeoutKillsGroupAndSaysTheDeadlinePassed(t *testing.T) {
	env := newTestEnv(t)
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	x := newExecStep("hang", "/bin/sh", "-c", "sleep 60 & echo $! > "+pidfile+"; wait")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := x.Run(ctx, env)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v after a 500ms deadline", d)
	}
	if err == nil {
		t.Fatal("no error after the deadline")
	}
	b, rerr := os.ReadFile(pidfile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitFor(t, 2*time.Second, "the background child to die", func() bool { return !pidAlive(child) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not say the deadline passed (errors.Is DeadlineExceeded is false)", err)
	}
}

func TestExecLogOpenError(t *testing.T) {
	env := newTestEnv(t)
	x := newExecStep("x", "true")
	x.Log = "no-such-dir/x.log"
	if err := x.Run(context.Background(), env); err == nil {
		t.Error("log in a missing folder: no error")
	}
}

func TestSleep(t *testing.T) {
	env := newTestEnv(t)
	start := time.Now()
	if err := (&Sleep{Duration: spec.Duration(50 * time.Millisecond)}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("slept %v", d)
	}
	cause := errors.New("ctrl-c")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
	start = time.Now()
	err := (&Sleep{Duration: spec.Duration(time.Hour)}).Run(ctx, env)
	if !errors.Is(err, cause) {
		t.Errorf("err %v, want the cancel cause", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := (&Sleep{Duration: spec.Duration(time.Hour)}).Run(ctx, env); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
}

// exec "runs a command to completion in its own group; records <id>_exit". A
// command that exits 0 but leaves a background child holding its stdout
// (`sleep 30 &`) has completed: the step succeeds at once (no WaitDelay
// stall, no "I/O incomplete" failure) and the group cleanup kills the child.
func TestExecSucceedsAtOnceWhenABackgroundChildHoldsItsOutput(t *testing.T) {
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

// TestExecPortPlaceholderIsTheNamedServersPort: {port} in an exec's command
// and env is the port of the server it names (else the last launched), so
// a command reaches a server launched on port: auto; without a server to
// name it fails saying so.
func TestExecPortPlaceholderIsTheNamedServersPort(t *testing.T) {
	env := newTestEnv(t)
	x := newExecStep("create", "/bin/sh", "-c", `echo "arg=$0 env=$TARGET"`, "127.0.0.1:{port}")
	x.Env = map[string]string{"TARGET": "http://127.0.0.1:{port}/v1"}
	x.Record = "out"
	if err := x.Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "{port} in command or env: no server has been launched") {
		t.Fatalf("without a server: %v", err)
	}
	env.AddServer(&Server{ID: "a", Host: "127.0.0.1", Port: 41001})
	env.AddServer(&Server{ID: "b", Host: "127.0.0.1", Port: 41002})
	if err := x.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, env, "out"); got != "arg=127.0.0.1:41002 env=http://127.0.0.1:41002/v1" {
		t.Errorf("last launched server: %q", got)
	}
	x.Server = "a"
	if err := x.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, env, "out"); got != "arg=127.0.0.1:41001 env=http://127.0.0.1:41001/v1" {
		t.Errorf("server a: %q", got)
	}
	if x.Command[3] != "127.0.0.1:{port}" || x.Env["TARGET"] != "http://127.0.0.1:{port}/v1" {
		t.Errorf("the step's own configuration changed: %q %q", x.Command, x.Env)
	}
}
