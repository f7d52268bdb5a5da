package steps

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
)

// TestWatchFailsTheStepWhenTheServerCrashesAfterReady: a server that exits
// while a later step runs cuts that step short and is reported with its
// exit status and its log's last error line.
func TestWatchFailsTheStepWhenTheServerCrashesAfterReady(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	launch(t, env, "server", port, "--exit-after", "400ms")
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatalf("wait-ready: %v", err)
	}
	ctx, stop := env.WatchServers(context.Background())
	start := time.Now()
	stepErr := (&Sleep{Duration: spec.Duration(5 * time.Second)}).Run(ctx, env)
	err := stop()
	if stepErr == nil || time.Since(start) > 3*time.Second {
		t.Errorf("the sleep was not cut short: %v after %s", stepErr, time.Since(start))
	}
	var exited *ServerExitedError
	if !errors.As(err, &exited) || !errors.Is(err, ErrServerExited) {
		t.Fatalf("stop() = %v, want a *ServerExitedError", err)
	}
	if exited.Server != "server" || exited.Status != "exit status 4" {
		t.Errorf("got %+v, want server server with exit status 4", exited)
	}
	if !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("message %q lacks the exit status", err)
	}
}

// TestWatchIgnoresAServerBeingTornDown: a teardown is how a server is meant
// to end; the watch does not report it.
func TestWatchIgnoresAServerBeingTornDown(t *testing.T) {
	env := newTestEnv(t)
	launch(t, env, "server", freePort(t))
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, stop := env.WatchServers(context.Background())
	if err := (&Teardown{}).Run(ctx, env); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * watchInterval)
	if err := stop(); err != nil {
		t.Errorf("teardown reported as a crash: %v", err)
	}
}

// daemonise launches a shell that starts the fake server in the background
// and exits 0 at once, as daemonising launch scripts do.
func daemonise(t *testing.T, env *Env, port int, args string) {
	t.Helper()
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Shell = true
	l.Command = []string{"(sleep 0.5; exec " + fakeServer + " --port " + strconv.Itoa(port) + " " + args + ") >/dev/null 2>&1 &"}
	l.Port = Port(port)
	l.StopGrace = spec.Duration(5 * time.Second)
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
}

// TestWaitReadyKeepsProbingADaemonisingLauncher: the leader exits 0 before
// the port answers while its daemon is still starting; wait-ready waits for
// the daemon instead of failing with "exit status 0".
func TestWaitReadyKeepsProbingADaemonisingLauncher(t *testing.T) {
	env := newTestEnv(t)
	daemonise(t, env, freePort(t), "")
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatalf("wait-ready on a daemonised server: %v", err)
	}
	// The watch treats it the same: the leader's exit 0 is no crash.
	ctx, stop := env.WatchServers(context.Background())
	_ = (&Sleep{Duration: spec.Duration(3 * watchInterval)}).Run(ctx, env)
	if err := stop(); err != nil {
		t.Errorf("a live daemon reported as exited: %v", err)
	}
}

// TestWaitReadyFailsWhenTheDaemonDiesToo: once the launch's whole tree is
// gone, wait-ready fails instead of probing until its timeout.
func TestWaitReadyFailsWhenTheDaemonDiesToo(t *testing.T) {
	env := newTestEnv(t)
	daemonise(t, env, freePort(t), "--crash-at-start")
	start := time.Now()
	err := runWithTimeout(fastWait(), env, 20*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("wait-ready: %v, want ErrExited", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s: it probed on after the tree was gone", d)
	}
}
