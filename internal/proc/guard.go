package proc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// guardEnv marks a process started as a guard. Its value is the protocol
// version; the CLI never sees it because GuardMain runs before it.
const guardEnv = "RUNEXP_INTERNAL_PROC_GUARD"

const guardProtocol = "1"

// guardControlFD is the guard's end of the control socket (ExtraFiles[0]).
const guardControlFD = 3

// guardHandshake bounds how long Start waits for the guard to report that
// the server runs (a Go binary starts in milliseconds).
const guardHandshake = 30 * time.Second

// guardEnabled is set by GuardMain: only a binary that calls it can act as
// a guard, so Start re-executes the current executable only then.
var guardEnabled atomic.Bool

// GuardMain lets the current executable act as the guard of launched
// servers. Call it first thing in main (or TestMain): in a process started
// as a guard it runs the guard and exits; otherwise it returns at once and
// makes Start run every server under a guard. A binary that never calls it
// starts servers directly, as before guards existed.
func GuardMain() {
	if os.Getenv(guardEnv) == "" {
		guardEnabled.Store(guardSupported)
		return
	}
	os.Exit(runGuard())
}

// Guarded reports whether Start runs servers under a guard.
func Guarded() bool { return guardEnabled.Load() }

// guardSpec is what runexp sends the guard: the server to start, and how
// to stop it should runexp die.
type guardSpec struct {
	Path       string        `json:"path"`
	Args       []string      `json:"args"`
	Env        []string      `json:"env"`
	Dir        string        `json:"dir,omitempty"`
	StopSignal int           `json:"stop_signal"`
	StopGrace  time.Duration `json:"stop_grace"`
}

// ExitError is the exit of a server started under a guard: the wait status
// the guard reaped, worded like *exec.ExitError ("exit status 3",
// "signal: killed").
type ExitError struct {
	Status syscall.WaitStatus
}

func (e *ExitError) Error() string {
	ws := e.Status
	switch {
	case ws.Exited():
		return "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		s := "signal: " + ws.Signal().String()
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	default:
		return fmt.Sprintf("wait status %#x", uint32(ws))
	}
}

// ExitCode is the exit status, or -1 when a signal ended the process.
func (e *ExitError) ExitCode() int {
	if e.Status.Exited() {
		return e.Status.ExitStatus()
	}
	return -1
}

// ErrGuardLost is in the chain of ExitErr when the guard ended without
// reporting the server's exit (it was killed, or could not start it).
var ErrGuardLost = errors.New("proc: the guard ended without reporting the server's exit")

// guardLink is runexp's side of one guard.
type guardLink struct {
	cmd  *exec.Cmd // the guard, a child of runexp
	conn *os.File  // runexp's end of the control socket
	rd   *bufio.Reader

	writeMu  sync.Mutex
	gone     chan struct{} // closed once the guard has been reaped
	readDone chan struct{} // closed when readGuard has read everything
	closed   sync.Once
}

// send writes one control line; errors mean the guard is gone.
func (g *guardLink) send(line string) {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	_ = g.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = g.conn.WriteString(line + "\n")
}

// hangUp closes the control socket: the guard tears down what is left.
func (g *guardLink) hangUp() {
	g.closed.Do(func() {
		g.writeMu.Lock()
		defer g.writeMu.Unlock()
		g.conn.Close()
	})
}

func (g *guardLink) pid() int { return g.cmd.Process.Pid }

func (g *guardLink) reaped() bool {
	select {
	case <-g.gone:
		return true
	default:
		return false
	}
}

// startGuarded starts the current executable as a guard, which starts the
// server described by path/argv; log (may be nil) becomes the guard's and
// the server's stdout and stderr. The caller holds regMu.
func startGuarded(path string, argv []string, opts Options, log *os.File) (*Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("proc: guard: %w", err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("proc: guard: socketpair: %w", err)
	}
	// Non-blocking, so that the runtime poller serves deadlines on our end.
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, fmt.Errorf("proc: guard: %w", err)
	}
	conn := os.NewFile(uintptr(fds[0]), "guard-control")
	theirs := os.NewFile(uintptr(fds[1]), "guard-control")
	defer theirs.Close() // the guard holds its own copy

	// /proc/self/exe is this very binary even when the file was replaced
	// since (a rebuild during a long run); the argv names it for ps.
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{self, "(runexp guard of " + argv[0] + ")"}
	// GORACE: a binary built with -race sleeps a second at exit by default
	// (atexit_sleep_ms), which would hold every Stop up; only the guard's own
	// environment changes, the server gets opts.Env as given.
	cmd.Env = append(withoutGuardEnv(os.Environ()), guardEnv+"="+guardProtocol, "GORACE=atexit_sleep_ms=0")
	cmd.ExtraFiles = []*os.File{theirs}
	// A group of its own: a terminal's Ctrl-C reaches neither the guard nor
	// the server; runexp decides the order of shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if log != nil {
		cmd.Stdout, cmd.Stderr = log, log
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proc: start guard: %w", err)
	}
	g := &guardLink{cmd: cmd, conn: conn, rd: bufio.NewReader(conn), gone: make(chan struct{}), readDone: make(chan struct{})}
	fail := func(err error) (*Process, error) {
		_ = cmd.Process.Kill()
		g.hangUp()
		_ = cmd.Wait()
		return nil, err
	}

	spec, _ := json.Marshal(guardSpec{
		Path: path, Args: argv, Env: append(os.Environ(), opts.Env...), Dir: opts.Dir,
		StopSignal: int(opts.StopSignal), StopGrace: opts.StopGrace,
	})
	_ = conn.SetDeadline(time.Now().Add(guardHandshake))
	if _, err := conn.Write(append(spec, '\n')); err != nil {
		return fail(fmt.Errorf("proc: guard: send the command: %w", err))
	}
	line, err := g.rd.ReadString('\n')
	if err != nil {
		return fail(fmt.Errorf("proc: guard did not start %s: %w", argv[0], err))
	}
	_ = conn.SetDeadline(time.Time{})
	verb, rest, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	switch verb {
	case "started":
	case "failed":
		n, msg, _ := strings.Cut(rest, " ")
		errno, _ := strconv.Atoi(n)
		return fail(fmt.Errorf("proc: start %s: %w", argv[0], &startError{msg: msg, errno: syscall.Errno(errno)}))
	default:
		return fail(fmt.Errorf("proc: guard: unexpected answer %q", line))
	}
	var pid int
	var ticks uint64
	if _, err := fmt.Sscan(rest, &pid, &ticks); err != nil || pid <= 0 {
		return fail(fmt.Errorf("proc: guard: unexpected answer %q", line))
	}
	// A pidfd: signals cannot reach a recycled pid. The guard has not reaped
	// anything yet when it answers, but the server may already have exited;
	// then the handle is done and signals report os.ErrProcessDone.
	leader, err := os.FindProcess(pid)
	if err != nil {
		return fail(fmt.Errorf("proc: guard: %w", err))
	}
	if st, ok := ReadStat(pid); ok && st.StartTicks != ticks {
		_ = leader.Release()
		leader = nil // the pid was recycled already: never signal it
	}
	p := newProcess(leader, pid, opts)
	p.guard = g
	p.startTicks = ticks
	go p.readGuard()
	go p.reapGuard()
	return p, nil
}

// readGuard turns the guard's "exit" line into the leader's exit. It ends
// at EOF, which comes once the guard has exited (no other process holds the
// guard's end of the socket).
func (p *Process) readGuard() {
	defer close(p.guard.readDone)
	for {
		line, err := p.guard.rd.ReadString('\n')
		if err != nil {
			return
		}
		verb, rest, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		n, err := strconv.ParseUint(rest, 10, 32)
		if verb != "exit" || err != nil {
			continue
		}
		ws := syscall.WaitStatus(n)
		e := &ExitError{Status: ws}
		if ws.Exited() && ws.ExitStatus() == 0 {
			p.finish(nil, 0)
		} else {
			p.finish(e, e.ExitCode())
		}
	}
}

// reapGuard waits for the guard. If it never reported the leader's exit
// (it was killed), the leader is taken as gone: the kernel sent it SIGKILL
// when the guard died (PR_SET_PDEATHSIG).
func (p *Process) reapGuard() {
	err := p.guard.cmd.Wait()
	select {
	case <-p.guard.readDone:
	case <-time.After(2 * time.Second):
	}
	p.finish(fmt.Errorf("%w (guard: %v)", ErrGuardLost, err), -1)
	close(p.guard.gone)
}

// startError is a failed exec in the guard, carrying its errno so that
// errors.Is(err, fs.ErrNotExist) and the like keep working.
type startError struct {
	msg   string
	errno syscall.Errno
}

func (e *startError) Error() string { return e.msg }
func (e *startError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

func withoutGuardEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, guardEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// The guard side.

// guard is one running guard process.
type guard struct {
	ctl     *os.File
	writeMu sync.Mutex
	spec    guardSpec
}

func (g *guard) say(format string, args ...any) {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	_, _ = fmt.Fprintf(g.ctl, format+"\n", args...) // runexp may be gone: nothing to tell
}

// runGuard is the guard's main: start the server, reap everything under
// it, and tear it all down when runexp hangs up.
func runGuard() int {
	// The server is forked from this thread and gets PR_SET_PDEATHSIG, which
	// fires when the forking *thread* exits; locked to the main goroutine,
	// the thread lives as long as the guard.
	runtime.LockOSThread()
	syscall.CloseOnExec(guardControlFD) // the server must not hold runexp's line
	ctl := os.NewFile(guardControlFD, "runexp-control")
	if ctl == nil {
		fmt.Fprintln(os.Stderr, "runexp guard: no control socket")
		return 2
	}
	g := &guard{ctl: ctl}
	rd := bufio.NewReader(ctl)
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return 2 // runexp died before sending the command: nothing started
	}
	if v := os.Getenv(guardEnv); v != guardProtocol {
		g.say("failed 0 guard protocol %q, want %q", v, guardProtocol)
		return 2
	}
	if err := json.Unmarshal(line, &g.spec); err != nil || len(g.spec.Args) == 0 {
		g.say("failed 0 bad guard command: %v", err)
		return 2
	}
	// Caught (not ignored) so that the server gets the default dispositions;
	// any of these means "stop everything", as runexp's death does.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := becomeSubreaper(); err != nil {
		g.say("failed 0 %s", oneLine(err.Error()))
		return 2
	}
	cmd := &exec.Cmd{
		Path: g.spec.Path, Args: g.spec.Args, Env: g.spec.Env, Dir: g.spec.Dir,
		Stdout: os.Stdout, Stderr: os.Stderr, SysProcAttr: leaderAttr(),
	}
	if err := cmd.Start(); err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		g.say("failed %d %s", int(errno), oneLine(err.Error()))
		return 2
	}
	leader := cmd.Process.Pid
	st, _ := ReadStat(leader) // unreaped: the pid is still the leader's
	g.say("started %d %d", leader, st.StartTicks)

	// This process reaps every child and orphan itself (wait4(-1)); it never
	// calls cmd.Wait.
	empty := make(chan struct{})
	go func() {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, 0, nil)
			switch {
			case errors.Is(err, syscall.EINTR):
			case err != nil: // ECHILD: the leader and every orphan are reaped
				close(empty)
				return
			case pid == leader:
				g.say("exit %d", uint32(ws))
			}
		}
	}()
	hangup := make(chan struct{})
	kill := make(chan struct{}, 1)
	go func() {
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				close(hangup) // runexp closed the line or died
				return
			}
			if strings.TrimSpace(line) == "kill" {
				select {
				case kill <- struct{}{}:
				default:
				}
			}
		}
	}()
	for {
		select {
		case <-empty:
			return 0
		case <-kill:
			g.signalTree(syscall.SIGKILL)
		case <-hangup:
			g.teardown(empty)
			return 0
		case <-sigs:
			g.teardown(empty)
			return 0
		}
	}
}

// teardown stops every descendant: the stop signal, up to the grace for
// them to exit, then SIGKILL until none is left (at most KillWait).
func (g *guard) teardown(empty <-chan struct{}) {
	sig := syscall.Signal(g.spec.StopSignal)
	if sig == 0 {
		sig = DefaultStopSignal
	}
	grace := g.spec.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	if g.signalTree(sig) == 0 {
		return
	}
	if g.waitTree(empty, grace) {
		return
	}
	deadline := time.Now().Add(KillWait)
	for g.signalTree(syscall.SIGKILL) > 0 && time.Now().Before(deadline) {
		g.waitTree(empty, pollInterval)
	}
}

// waitTree waits up to d for the guard to have no live descendant.
func (g *guard) waitTree(empty <-chan struct{}, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if len(guardTree()) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-empty:
			return true
		case <-time.After(pollInterval):
		}
	}
}

// signalTree sends sig to every live descendant of the guard and returns
// how many there were. As a subreaper, the guard is an ancestor of every
// process the server ever started, whatever groups or sessions they made.
func (g *guard) signalTree(sig syscall.Signal) int {
	pids := guardTree()
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
	return len(pids)
}

func guardTree() []int {
	s := scanProcs()
	if s == nil {
		return nil
	}
	return s.descendants(os.Getpid())
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
