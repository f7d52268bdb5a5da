package proc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// launcherEnv makes the test binary stand in for runexp: it starts the
// Options given as JSON under a guard, prints "leader guard", and blocks
// until it is killed.
const launcherEnv = "PROC_TEST_LAUNCHER"

func runLauncher() int {
	var opts Options
	if err := json.Unmarshal([]byte(os.Getenv(launcherEnv)), &opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	p, err := Start(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("%d %d\n", p.PID(), p.GuardPID())
	select {}
}

// waitGone waits up to d for every pid to be gone (zombies count as gone)
// and returns those still alive.
func waitGone(d time.Duration, pids ...int) []int {
	deadline := time.Now().Add(d)
	for {
		var left []int
		for _, pid := range pids {
			if pid > 0 && alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitPortServing(t *testing.T, port int, d time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port)); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing serves port %d after %v", port, d)
}

// TestGuardStopsTheTreeWhenRunexpIsKilled: SIGKILL of the process that
// started a server (it cannot clean up) still ends the server, a setsid
// grandchild and the guard within the stop grace plus a margin, and frees
// the port.
func TestGuardStopsTheTreeWhenRunexpIsKilled(t *testing.T) {
	t.Parallel()
	const grace = 500 * time.Millisecond
	dir := t.TempDir()
	port := freePort(t)
	pidfile := filepath.Join(dir, "grandchild.pid")
	opts, _ := json.Marshal(Options{
		Argv: []string{fakeBin, "--port", strconv.Itoa(port), "--ignore-sigterm",
			"--fork-grandchild", "--grandchild-setsid", "--grandchild-pidfile", pidfile},
		LogPath:   filepath.Join(dir, "server.log"),
		StopGrace: grace,
	})
	launcher := exec.Command(os.Args[0])
	launcher.Env = append(os.Environ(), launcherEnv+"="+string(opts))
	launcher.Stderr = os.Stderr
	out, err := launcher.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := launcher.Start(); err != nil {
		t.Fatal(err)
	}
	var leader, guard int
	if _, err := fmt.Fscan(bufio.NewReader(out), &leader, &guard); err != nil {
		launcher.Process.Kill()
		t.Fatalf("launcher: %v", err)
	}
	t.Cleanup(func() {
		for _, pid := range []int{leader, guard} {
			if pid > 0 { // kill(0) would hit this test's own group
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	if guard == 0 || guard == leader {
		t.Errorf("leader %d, guard %d: want a guard of its own", leader, guard)
	}
	waitPortServing(t, port, 10*time.Second)
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if grandchild > 0 {
		t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
	}

	killed := time.Now()
	_ = launcher.Process.Kill()
	_ = launcher.Wait()
	if left := waitGone(grace+2*time.Second, leader, grandchild, guard); len(left) > 0 {
		t.Fatalf("alive %v after the launcher was killed (leader %d, grandchild %d, guard %d)", left, leader, grandchild, guard)
	}
	t.Logf("tree gone %v after SIGKILL of the launcher", time.Since(killed).Round(time.Millisecond))
	if err := CheckPortFree("127.0.0.1", port); err != nil {
		t.Errorf("port after the teardown: %v", err)
	}
}

// TestGuardStopsADoubleForkedDaemonServingThePort: a launch script that
// daemonises (its leader exits 0 at once, a setsid grandchild serves the
// port) is a supported way to run: the daemon stays in the tree, is stopped
// by Stop, and the port is free afterwards.
func TestGuardStopsADoubleForkedDaemonServingThePort(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	p, err := Start(Options{
		Argv:      []string{fmt.Sprintf("(setsid %s --port %d >/dev/null 2>&1 &); exit 0", fakeBin, port)},
		Shell:     true,
		StopGrace: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Stop(context.Background()) })
	waitDone(t, p, 5*time.Second)
	if err := p.ExitErr(); err != nil || p.ExitCode() != 0 {
		t.Fatalf("leader exit %v (code %d), want exit status 0", err, p.ExitCode())
	}
	waitPortServing(t, port, 10*time.Second)
	var inUse *PortInUseError
	if err := CheckPortFree("127.0.0.1", port); !errors.As(err, &inUse) || inUse.PID == 0 {
		t.Fatalf("CheckPortFree = %v, want the daemon as owner", err)
	}
	daemon := inUse.PID
	t.Cleanup(func() { _ = syscall.Kill(daemon, syscall.SIGKILL) })
	if st, _ := ReadStat(daemon); st.SID != daemon {
		t.Errorf("daemon %d did not leave the session: %+v", daemon, st)
	}
	if tree := TreePIDs(p); !slices.Contains(tree, daemon) {
		t.Errorf("TreePIDs = %v, want the daemon %d", tree, daemon)
	}
	rep, err := p.Stop(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Graceful || !rep.AlreadyExited {
		t.Errorf("report %+v", rep)
	}
	if left := waitGone(time.Second, daemon); len(left) > 0 {
		t.Fatalf("daemon %d survived Stop (report %+v)", daemon, rep)
	}
	if err := CheckPortFree("127.0.0.1", port); err != nil {
		t.Errorf("port after Stop: %v", err)
	}
}

// TestGuardedServerKeepsItsPIDAndTreeWithoutTheGuard: PID is the server's
// own pid (what runexp records as <id>_pid), the guard is runexp's child
// and the server's parent, the tree (memory readings) leaves the guard out,
// and Stop ends the guard too.
func TestGuardedServerKeepsItsPIDAndTreeWithoutTheGuard(t *testing.T) {
	t.Parallel()
	f := startFake(t, 5*time.Second, "--fork-grandchild")
	f.waitServing(t, false)
	pid, guard := f.p.PID(), f.p.GuardPID()
	if guard == 0 {
		t.Fatal("no guard: GuardMain was called, the server should run under one")
	}
	if st, ok := ReadStat(pid); !ok || st.Comm != "fakeserver" || st.PPID != guard || st.PGID != pid {
		t.Errorf("leader %d: %+v, want fakeserver, child of the guard %d, leading its group", pid, st, guard)
	}
	if st, ok := ReadStat(guard); !ok || st.PPID != os.Getpid() {
		t.Errorf("guard %d: %+v, want a child of this process", guard, st)
	}
	tree := TreePIDs(f.p)
	if slices.Contains(tree, guard) || !slices.Contains(tree, pid) || !slices.Contains(tree, f.grandchild(t)) {
		t.Errorf("TreePIDs = %v, want leader %d and grandchild %d, not the guard %d", tree, pid, f.grandchild(t), guard)
	}
	if _, err := f.p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if left := waitGone(time.Second, guard); len(left) > 0 {
		t.Errorf("guard %d outlived Stop", guard)
	}
}

// TestGuardKilledTakesTheServerWithIt: a guard killed outright cannot tear
// down, but the leader dies with it (PR_SET_PDEATHSIG) and its exit error
// says the guard was lost.
func TestGuardKilledTakesTheServerWithIt(t *testing.T) {
	t.Parallel()
	f := startFake(t, 5*time.Second)
	f.waitServing(t, false)
	if f.p.GuardPID() <= 0 {
		t.Fatal("no guard")
	}
	if err := syscall.Kill(f.p.GuardPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, f.p, 5*time.Second)
	if err := f.p.ExitErr(); !errors.Is(err, ErrGuardLost) {
		t.Errorf("ExitErr = %v, want ErrGuardLost", err)
	}
	if left := waitGone(2*time.Second, f.p.PID()); len(left) > 0 {
		t.Errorf("leader %d outlived its guard", f.p.PID())
	}
	if _, err := f.p.Stop(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestStartWithoutGuardMainRunsTheServerDirectly: a binary that never
// called GuardMain (the steps and runner test binaries) starts servers as
// its own children, with no guard. Not parallel: it switches the guard off.
func TestStartWithoutGuardMainRunsTheServerDirectly(t *testing.T) {
	guardEnabled.Store(false)
	defer guardEnabled.Store(guardSupported)
	p, err := Start(Options{Argv: []string{"sh", "-c", "exit 5"}})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 5*time.Second)
	var exitErr *exec.ExitError
	if p.GuardPID() != 0 || !errors.As(p.ExitErr(), &exitErr) || p.ExitCode() != 5 {
		t.Errorf("guard %d, ExitErr %v (%T), code %d; want no guard and exec's exit status 5", p.GuardPID(), p.ExitErr(), p.ExitErr(), p.ExitCode())
	}
	if _, err := p.Stop(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestGuardedStartErrorsKeepTheirCause: a program the guard cannot execute
// fails Start with the errno in the chain, as a direct start does.
func TestGuardedStartErrorsKeepTheirCause(t *testing.T) {
	t.Parallel()
	_, err := Start(Options{Argv: []string{"/nonexistent/runexp-no-such-binary"}})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "/nonexistent/runexp-no-such-binary") {
		t.Errorf("Start = %v, want a not-exist error naming the program", err)
	}
	_, err = Start(Options{Argv: []string{"runexp-no-such-program-on-path"}})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Start = %v, want exec.ErrNotFound", err)
	}
}
