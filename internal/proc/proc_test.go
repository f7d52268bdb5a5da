package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeBin is the fakeserver binary built by TestMain.
var fakeBin string

// TestMain lets the test binary act as the guard, so that every test here
// runs its servers under a guard, as runexp does.
func TestMain(m *testing.M) {
	GuardMain()
	if os.Getenv(launcherEnv) != "" {
		os.Exit(runLauncher()) // stands in for runexp; see guard_test.go
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "proc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		fmt.Fprintf(os.Stderr, "go env GOMOD: %q %v\n", gomod, err)
		return 1
	}
	fakeBin = filepath.Join(dir, "fakeserver")
	build := exec.Command("go", "build", "-o", fakeBin, "./internal/cmd/fakeserver")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building fakeserver: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	KillAll() // safety net: never leave processes behind
	return code
}

// fake is a running fakeserver.
type fake struct {
	p       *Process
	port    int
	log     string
	pidfile string
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startFake starts fakeserver with args (plus --port and, with
// --fork-grandchild, --grandchild-pidfile) and a cleanup that stops it.
func startFake(t *testing.T, grace time.Duration, args ...string) *fake {
	t.Helper()
	dir := t.TempDir()
	f := &fake{port: freePort(t), log: filepath.Join(dir, "server.log")}
	argv := append([]string{fakeBin, "--port", strconv.Itoa(f.port)}, args...)
	if slices.Contains(args, "--fork-grandchild") {
		f.pidfile = filepath.Join(dir, "grandchild.pid")
		argv = append(argv, "--grandchild-pidfile", f.pidfile)
	}
	p, err := Start(Options{Argv: argv, LogPath: f.log, StopGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	t.Cleanup(func() {
		p.Kill()
		if _, err := p.Stop(context.Background()); err != nil {
			t.Errorf("cleanup Stop: %v", err)
		}
	})
	return f
}

// waitServing polls /health until it answers (any status when anyStatus,
// else 200), failing fast if the process exits.
func (f *fake) waitServing(t *testing.T, anyStatus bool) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-f.p.Done():
			t.Fatalf("fakeserver exited: %v\n%s", f.p.ExitErr(), Tail(f.log, 20))
		default:
		}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/health", f.port))
		if err == nil {
			resp.Body.Close()
			if anyStatus || resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fakeserver not serving after 10s\n%s", Tail(f.log, 20))
}

func (f *fake) grandchild(t *testing.T) int {
	t.Helper()
	if f.pidfile == "" {
		return 0
	}
	b, err := os.ReadFile(f.pidfile)
	if err != nil {
		t.Fatalf("grandchild pidfile: %v\n%s", err, Tail(f.log, 20))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	pi, ok := ReadStat(pid)
	return ok && !pi.Zombie()
}

// assertGone fails for every pid still alive and for any live member of pgid.
func assertGone(t *testing.T, pgid int, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		if pid > 0 && alive(pid) {
			pi, _ := ReadStat(pid)
			t.Errorf("pid %d still alive: %+v", pid, pi)
		}
	}
	if m := GroupMembers(pgid); len(m) > 0 {
		t.Errorf("group %d still has members %v", pgid, m)
	}
}

func waitDone(t *testing.T, p *Process, d time.Duration) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(d):
		t.Fatalf("pid %d did not exit within %v", p.PID(), d)
	}
}

func exitString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestStop(t *testing.T) {
	const short = 300 * time.Millisecond
	tests := []struct {
		name    string
		args    []string
		grace   time.Duration
		noWait  bool // stop before the server listens
		anyHTTP bool // server never becomes ready
		track   bool // call TreePIDs while the leader runs
		waitEnd bool // let the leader exit on its own before Stop

		wantGraceful   bool
		wantSignal     syscall.Signal
		wantGCKilled   bool // the grandchild needed SIGKILL
		wantExit       string
		wantMinElapsed time.Duration
	}{
		{name: "normal", grace: 5 * time.Second,
			wantGraceful: true, wantSignal: syscall.SIGTERM},
		{name: "ignore-sigterm", args: []string{"--ignore-sigterm"}, grace: short,
			wantSignal: syscall.SIGKILL, wantExit: "signal: killed", wantMinElapsed: short},
		{name: "never-ready", args: []string{"--never-ready"}, grace: 5 * time.Second, anyHTTP: true,
			wantGraceful: true, wantSignal: syscall.SIGTERM},
		{name: "during start-delay", args: []string{"--start-delay", "10s", "--log-lines"}, grace: 5 * time.Second, noWait: true,
			wantGraceful: true, wantSignal: syscall.SIGTERM},
		{name: "grandchild", args: []string{"--fork-grandchild"}, grace: 5 * time.Second,
			wantGraceful: true, wantSignal: syscall.SIGTERM},
		{name: "grandchild ignore-sigterm", args: []string{"--fork-grandchild", "--ignore-sigterm"}, grace: short,
			wantSignal: syscall.SIGKILL, wantGCKilled: true, wantExit: "signal: killed", wantMinElapsed: short},
		{name: "grandchild setsid", args: []string{"--fork-grandchild", "--grandchild-setsid"}, grace: 5 * time.Second,
			wantGraceful: true, wantSignal: syscall.SIGTERM},
		{name: "grandchild setsid ignore-sigterm", args: []string{"--fork-grandchild", "--grandchild-setsid", "--ignore-sigterm"}, grace: short,
			wantSignal: syscall.SIGKILL, wantGCKilled: true, wantExit: "signal: killed", wantMinElapsed: short},
		{name: "crash at start, orphan in group",
			args:  []string{"--fork-grandchild", "--crash-at-start"},
			grace: 5 * time.Second, noWait: true, waitEnd: true,
			wantGraceful: true, wantSignal: syscall.SIGTERM, wantExit: "exit status 3"},
		{name: "leader crashed, orphan in group ignores sigterm",
			args:  []string{"--fork-grandchild", "--ignore-sigterm", "--exit-after", "200ms"},
			grace: short, waitEnd: true,
			wantGraceful: true, wantSignal: syscall.SIGKILL, wantGCKilled: true, wantExit: "exit status 4", wantMinElapsed: short},
		{name: "leader crashed, tracked setsid orphan",
			args:  []string{"--fork-grandchild", "--grandchild-setsid", "--exit-after", "1s"},
			grace: 5 * time.Second, track: true, waitEnd: true,
			wantGraceful: true, wantSignal: syscall.SIGTERM, wantExit: "exit status 4"},
		{name: "leader crashed, tracked setsid orphan ignores sigterm",
			args:  []string{"--fork-grandchild", "--grandchild-setsid", "--ignore-sigterm", "--exit-after", "1s"},
			grace: short, track: true, waitEnd: true,
			wantGraceful: true, wantSignal: syscall.SIGKILL, wantGCKilled: true, wantExit: "exit status 4", wantMinElapsed: short},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startFake(t, tt.grace, tt.args...)
			switch {
			case tt.noWait && tt.waitEnd:
				waitDone(t, f.p, 10*time.Second)
			case tt.noWait:
				time.Sleep(100 * time.Millisecond) // let it install its handler
			default:
				f.waitServing(t, tt.anyHTTP)
			}
			gc := f.grandchild(t)
			if tt.track {
				if tree := TreePIDs(f.p); !slices.Contains(tree, gc) {
					t.Fatalf("TreePIDs %v lacks grandchild %d", tree, gc)
				}
			}
			if tt.waitEnd {
				waitDone(t, f.p, 5*time.Second)
				if gc > 0 && !alive(gc) {
					t.Fatalf("grandchild %d died with the leader; the test proves nothing", gc)
				}
			}
			rep, err := f.p.Stop(t.Context())
			if err != nil {
				t.Fatalf("Stop: %v (report %+v)", err, rep)
			}
			t.Logf("report %+v", rep)
			assertGone(t, f.p.PGID(), f.p.PID(), gc)
			if rep.Graceful != tt.wantGraceful {
				t.Errorf("Graceful = %v, want %v", rep.Graceful, tt.wantGraceful)
			}
			if rep.Signal != tt.wantSignal {
				t.Errorf("Signal = %v, want %v", rep.Signal, tt.wantSignal)
			}
			if got := slices.Contains(rep.Killed, gc); gc > 0 && got != tt.wantGCKilled {
				t.Errorf("grandchild %d in Killed %v = %v, want %v", gc, rep.Killed, got, tt.wantGCKilled)
			}
			if tt.wantSignal == syscall.SIGTERM && len(rep.Killed) > 0 {
				t.Errorf("Killed = %v, want none", rep.Killed)
			}
			if len(rep.Leftover) > 0 {
				t.Errorf("Leftover = %v", rep.Leftover)
			}
			if rep.AlreadyExited != tt.waitEnd {
				t.Errorf("AlreadyExited = %v, want %v", rep.AlreadyExited, tt.waitEnd)
			}
			if rep.Duration < tt.wantMinElapsed {
				t.Errorf("Duration = %v, want >= %v", rep.Duration, tt.wantMinElapsed)
			}
			if rep.Duration > tt.grace+KillWait {
				t.Errorf("Duration = %v, want <= grace+KillWait", rep.Duration)
			}
			select {
			case <-f.p.Done():
			default:
				t.Fatal("Done not closed after Stop")
			}
			if got := exitString(f.p.ExitErr()); got != tt.wantExit {
				t.Errorf("ExitErr = %q, want %q", got, tt.wantExit)
			}
			if f.p.Alive() {
				t.Error("Alive after Stop")
			}
			if tt.wantSignal == syscall.SIGTERM && !tt.waitEnd {
				if log := Tail(f.log, 50); !strings.Contains(log, "shutting down") {
					t.Errorf("log lacks %q:\n%s", "shutting down", log)
				}
			}
		})
	}
}

// TestStopFindsSetsidOrphanOfCrashedLeader: a grandchild that left the
// group and was orphaned when its leader crashed is still stopped, because
// the leader's tree was snapshotted while it ran (track) and nothing else
// called TreePIDs.
func TestStopFindsSetsidOrphanOfCrashedLeader(t *testing.T) {
	t.Parallel()
	f := startFake(t, time.Second, "--fork-grandchild", "--grandchild-setsid", "--exit-after", "500ms")
	f.waitServing(t, false)
	gc := f.grandchild(t)
	t.Cleanup(func() { _ = syscall.Kill(gc, syscall.SIGKILL) })
	waitDone(t, f.p, 5*time.Second)
	rep, err := f.p.Stop(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if alive(gc) {
		t.Fatalf("orphan %d of the crashed leader survived Stop (report %+v)", gc, rep)
	}
}

func TestTreeDiscovery(t *testing.T) {
	t.Parallel()
	for _, setsid := range []bool{false, true} {
		t.Run(fmt.Sprintf("setsid=%v", setsid), func(t *testing.T) {
			t.Parallel()
			args := []string{"--fork-grandchild"}
			if setsid {
				args = append(args, "--grandchild-setsid")
			}
			f := startFake(t, 5*time.Second, args...)
			f.waitServing(t, false)
			gc, pid := f.grandchild(t), f.p.PID()
			if !f.p.Alive() {
				t.Fatal("not Alive while serving")
			}
			if f.p.PGID() != pid {
				t.Errorf("PGID %d != PID %d", f.p.PGID(), pid)
			}
			tree := []int{pid, gc}
			slices.Sort(tree)
			if got, err := Tree(DefaultRoot, pid); err != nil || !reflect.DeepEqual(got, tree) {
				t.Errorf("Tree(%d) = %v, %v; want %v", pid, got, err, tree)
			}
			wantGroup := []int{pid, gc}
			if setsid {
				wantGroup = []int{pid}
			}
			slices.Sort(wantGroup)
			if got := GroupMembers(pid); !reflect.DeepEqual(got, wantGroup) {
				t.Errorf("GroupMembers(%d) = %v, want %v", pid, got, wantGroup)
			}
			want := []int{pid, gc}
			slices.Sort(want)
			if got := TreePIDs(f.p); !reflect.DeepEqual(got, want) {
				t.Errorf("TreePIDs = %v, want %v", got, want)
			}
			err := CheckPortFree("127.0.0.1", f.port)
			var pe *PortInUseError
			if !errors.As(err, &pe) || pe.PID != pid || pe.Comm != "fakeserver" {
				t.Errorf("CheckPortFree = %v, want in use by pid %d (fakeserver)", err, pid)
			}
			if _, err := f.p.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			assertGone(t, pid, pid, gc)
			if got := TreePIDs(f.p); len(got) != 0 {
				t.Errorf("TreePIDs after Stop = %v", got)
			}
		})
	}
}

func TestCrashAtStart(t *testing.T) {
	t.Parallel()
	f := startFake(t, 5*time.Second, "--crash-at-start", "--start-delay", "50ms")
	waitDone(t, f.p, 10*time.Second)
	if got := exitString(f.p.ExitErr()); got != "exit status 3" {
		t.Errorf("ExitErr = %q, want exit status 3", got)
	}
	if f.p.ExitCode() != 3 {
		t.Errorf("ExitCode = %d", f.p.ExitCode())
	}
	if f.p.Alive() {
		t.Error("Alive after crash")
	}
	if tail := Tail(f.log, 3); !strings.Contains(tail, "ERROR: fake crash at startup") {
		t.Errorf("Tail = %q", tail)
	}
	for range 2 {
		rep, err := f.p.Stop(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.AlreadyExited || !rep.Graceful || len(rep.Killed) != 0 || rep.Signal != syscall.SIGTERM {
			t.Errorf("report %+v", rep)
		}
		if rep.Duration > time.Second {
			t.Errorf("Stop of an exited process took %v", rep.Duration)
		}
	}
	assertGone(t, f.p.PGID(), f.p.PID())
}

func TestStopConcurrentAndTwice(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	f := startFake(t, grace, "--ignore-sigterm", "--fork-grandchild")
	f.waitServing(t, false)
	gc := f.grandchild(t)
	start := time.Now()
	var wg sync.WaitGroup
	reps := make([]StopReport, 4)
	errs := make([]error, 4)
	for i := range reps {
		wg.Go(func() { reps[i], errs[i] = f.p.Stop(t.Context()) })
	}
	wg.Wait()
	if el := time.Since(start); el > 2*grace+2*time.Second {
		t.Errorf("concurrent Stops took %v", el)
	}
	for i := range reps {
		if errs[i] != nil {
			t.Errorf("Stop %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(reps[i], reps[0]) {
			t.Errorf("report %d = %+v, want %+v", i, reps[i], reps[0])
		}
	}
	again, err := f.p.Stop(context.Background())
	if err != nil || !reflect.DeepEqual(again, reps[0]) {
		t.Errorf("second Stop = %+v, %v; want %+v", again, err, reps[0])
	}
	if !slices.Contains(reps[0].Killed, f.p.PID()) || !slices.Contains(reps[0].Killed, gc) {
		t.Errorf("Killed = %v, want leader %d and grandchild %d", reps[0].Killed, f.p.PID(), gc)
	}
	assertGone(t, f.p.PGID(), f.p.PID(), gc)
}

func TestStopCancelledContext(t *testing.T) {
	t.Parallel()
	f := startFake(t, 30*time.Second, "--ignore-sigterm")
	f.waitServing(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := f.p.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Graceful || rep.Signal != syscall.SIGKILL || rep.Duration > 3*time.Second {
		t.Errorf("report %+v", rep)
	}
	assertGone(t, f.p.PGID(), f.p.PID())
}

// TestKillAll is not parallel: KillAll hits every registered process.
func TestKillAll(t *testing.T) {
	a := startFake(t, 5*time.Second)
	b := startFake(t, 5*time.Second, "--ignore-sigterm", "--fork-grandchild", "--grandchild-setsid")
	a.waitServing(t, false)
	b.waitServing(t, false)
	gc := b.grandchild(t)
	TreePIDs(b.p) // the setsid grandchild is found through the ppid link anyway
	KillAll()
	for _, f := range []*fake{a, b} {
		waitDone(t, f.p, 5*time.Second)
		if got := exitString(f.p.ExitErr()); got != "signal: killed" {
			t.Errorf("ExitErr = %q, want signal: killed", got)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(gc) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, f := range []*fake{a, b} {
		rep, err := f.p.Stop(t.Context())
		if err != nil || len(rep.Leftover) > 0 || !rep.AlreadyExited {
			t.Errorf("Stop after KillAll: %+v, %v", rep, err)
		}
	}
	assertGone(t, a.p.PGID(), a.p.PID())
	assertGone(t, b.p.PGID(), b.p.PID(), gc)
	if n := registered(); n != 0 {
		t.Errorf("%d processes still registered", n)
	}
}

func registered() int {
	regMu.Lock()
	defer regMu.Unlock()
	return len(registry)
}

func TestStartShellEnvDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "out.log")
	if err := os.WriteFile(log, []byte("previous run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Start(Options{
		Argv:    []string{"echo", "$RUNEXP_PROC_T;", "pwd;", "echo", "oops", ">&2;", "exit", "7"},
		Shell:   true,
		Env:     []string{"RUNEXP_PROC_T=hello"},
		Dir:     dir,
		LogPath: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 5*time.Second)
	if got := exitString(p.ExitErr()); got != "exit status 7" {
		t.Errorf("ExitErr = %q", got)
	}
	want := "previous run\nhello\n" + dir + "\noops"
	if got := Tail(log, 10); got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	if _, err := p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestStartErrors is not parallel, so that the registry count is stable.
func TestStartErrors(t *testing.T) {
	before := registered()
	for name, opts := range map[string]Options{
		"empty argv":  {},
		"empty shell": {Shell: true},
		"not found":   {Argv: []string{"/nonexistent/runexp-no-such-binary"}},
		"bad log":     {Argv: []string{"true"}, LogPath: "/nonexistent/dir/x.log"},
	} {
		if p, err := Start(opts); err == nil {
			p.Kill()
			t.Errorf("%s: Start succeeded", name)
		}
	}
	if registered() > before {
		t.Error("a failed Start left a registry entry")
	}
}
