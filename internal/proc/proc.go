// Package proc starts long-lived server processes (vLLM and the like) in
// their own process group and stops them so that nothing they started
// survives, not even runexp's own death.
//
// Contract:
//
//   - Start runs Argv (or "/bin/sh -c" with Argv joined by spaces when Shell
//     is set), resolved as exec.Command does (PATH lookup, its errors). The
//     server outlives the step that launched it and ends only through Stop,
//     Kill or KillAll (or runexp's death, see Guard). Stdin is /dev/null;
//     stdout and stderr both go to one *os.File: Options.LogFile as the
//     caller opened it, or LogPath opened with O_APPEND|O_NOFOLLOW (so no
//     pipes or copy goroutines exist, Wait cannot hang on a pipe a
//     grandchild holds, and the log survives a crash of the runner). The
//     server gets its own process group (Setpgid), so a terminal Ctrl-C does
//     not reach it and the runner decides the order of shutdown. Done closes
//     when the leader has exited and been reaped. Every started process is
//     registered for KillAll until its Stop returns. With Options.Ledger,
//     Start appends the launch to that ledger (see Ledger).
//   - Stop sends StopSignal to the whole group and to every known descendant
//     outside the group, waits up to StopGrace (or until ctx is done) for the
//     leader and then for the rest of the tree, then always sends SIGKILL to
//     the group and to every known descendant (even when the leader already
//     exited: orphaned workers may remain), and waits at most KillWait,
//     regardless of ctx, until no process of the group and no known
//     descendant remains. Zombies count as gone. Under a guard it then
//     hangs up on the guard and waits (KillWait, then SIGKILL) for it to
//     exit, so the guard never outlives Stop. Stop is idempotent:
//     concurrent and later calls wait for the first call and return its
//     result.
//   - Kill and KillAll send SIGKILL and do not wait; KillAll is meant for a
//     second Ctrl-C. Under a guard, Kill also tells the guard to SIGKILL
//     its whole tree, which covers processes forked since runexp's scan.
//   - ParseStat/ReadStat are runexp's one reader of /proc/PID/stat, and
//     Tree its one process-tree walker (by ppid links, zombies left out);
//     other packages use them rather than parse /proc themselves.
//
// Guard. A binary that calls GuardMain first thing in main (runexp does)
// runs every server under a guard: Start re-executes os.Executable with the
// environment marker RUNEXP_INTERNAL_PROC_GUARD (GuardMain sees it, runs
// the guard and exits, so the CLI never does), in a process group of its
// own, holding one end of a socketpair whose other end only runexp holds.
// The guard (Linux: needs PR_SET_CHILD_SUBREAPER and /proc):
//
//   - makes itself a child subreaper, then starts the server (its own group,
//     PR_SET_PDEATHSIG=SIGKILL) and tells runexp the leader's pid and start
//     time. Orphans of the server (a double-forked, setsid daemon) reparent
//     to the guard, so "descends from the launch" is exactly "descends from
//     the guard": the tree Stop, Kill and TreePIDs walk includes every
//     descendant of the guard, and a process listening on the launch's port
//     that descends from the launch is stopped with it. A leader that exits
//     0 while a descendant serves the port is a supported way to run.
//   - reaps everything itself (wait4(-1)), so runexp, which is not a
//     subreaper, never steals an exit status from os/exec; it reports the
//     leader's wait status, which ExitErr/ExitCode word as exec does ("exit
//     status 3", "signal: killed"; an *ExitError). If the guard dies
//     without reporting (it was killed), ExitErr wraps ErrGuardLost and the
//     kernel has sent the leader SIGKILL.
//   - exits once it has no child left. When the socket reaches EOF (runexp
//     exited or was SIGKILLed: the kernel closes runexp's end) or the guard
//     gets SIGTERM/SIGINT/SIGHUP, it sends the launch's StopSignal to every
//     descendant, waits up to StopGrace, then SIGKILLs until none is left
//     (at most KillWait), and exits. So no process of a run outlives
//     runexp by more than its stop grace plus KillWait.
//
// Why a pipe and not PR_SET_PDEATHSIG on the guard: the death signal fires
// when the parent *thread* that forked the child exits, and Go threads come
// and go (a goroutine that exits locked to its thread ends that thread), so
// it could tear down a healthy server; EOF comes only when the runexp
// process is gone. Inside the guard, PDEATHSIG on the leader is safe: the
// guard forks from its main thread, locked for the guard's lifetime.
//
// What runexp sees: PID/PGID are the server leader's (what a launch records
// as <id>_pid), never the guard's; GuardPID names the guard. The log file
// is the server's stdout and stderr as before (the guard writes to it only
// if it crashes). TreePIDs, and so the per-tree memory readings, leave the
// guard itself out. A binary that never calls GuardMain (the steps and
// runner test binaries, whose TestMain is not proc's) starts servers as its
// own children, exactly as before guards existed; proc's own tests call
// GuardMain and run guarded; runner tests exercise the guard through the
// runexp binary they build.
//
// Ledger. AppendLedger/ReadLedger keep an append-only JSON-lines file (a
// run folder's launched.jsonl, LedgerName) with one LedgerEntry per launch:
// host name and boot id, leader pid, pgid and start time, guard pid and
// start time, argv[0], port, stop signal and grace. LedgerEntry.Leftovers
// names what is still alive of a launch made on this machine in its
// current boot (matched by start time, so recycled pids are never named;
// an entry of another node sharing the run folder has none here, see
// LedgerEntry.Elsewhere), and ReapLedger stops it: for a later run or a
// resume after a killed run.
//
// Which processes belong to a Process: the leader while it runs, every live
// member of its process group, every live descendant of its guard, and,
// transitively, the children (by the ppid links in /proc) of all of those
// and the members of any process group led by one of those. Every pid found
// is remembered with its start time (so a recycled pid is never signalled)
// in a tracked set, refreshed by every TreePIDs, Kill and Stop; a tracked
// process stays tracked after its parent dies and it is reparented, so a
// worker that called setsid is still found after the leader crashed,
// provided a snapshot saw it first.
//
// Limits: without a guard, a process that leaves the group (setsid/setpgid)
// and loses its parent chain to the leader (it double-forked, or its parent
// exited, and it was reparented to init) before any snapshot saw it is not
// found. While the leader runs, every Process snapshots its tree every
// trackInterval (100 ms), so only a worker that leaves the group and loses
// its parent within that window escapes. Once the leader has been reaped and
// its group has been seen empty, the group id is never signalled again,
// because the kernel may hand the number to an unrelated process. Signals to
// tracked pids are sent by number after a start-time check, which leaves a
// window of microseconds for pid reuse. A guard killed outright (SIGKILL)
// takes only the leader along (PDEATHSIG); its other descendants are left
// to the ledger. /proc is Linux only; elsewhere there is no guard and only
// the group and the leader are signalled.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for Options and Stop.
const (
	DefaultStopSignal = syscall.SIGTERM
	DefaultStopGrace  = 30 * time.Second
	// KillWait bounds how long Stop waits, after SIGKILL, for every process
	// of the tree to disappear. It does not depend on Stop's ctx.
	KillWait = 5 * time.Second
)

// pollInterval is how often Stop rescans /proc while it waits.
const pollInterval = 20 * time.Millisecond

// trackInterval is how often a running leader's tree is snapshotted, so
// that a worker which leaves the group (setsid) is known before a crash of
// its parent reparents it to init.
const trackInterval = 100 * time.Millisecond

// Options describes a process to start.
type Options struct {
	Argv       []string       // required unless Shell
	Shell      bool           // when true, Argv is joined with spaces and run by /bin/sh -c
	Env        []string       // extra KEY=VALUE appended to os.Environ(); later entries win
	Dir        string         // working directory; empty means the current one
	LogPath    string         // stdout+stderr, opened O_WRONLY|O_APPEND|O_CREATE|O_NOFOLLOW; empty means /dev/null
	StopSignal syscall.Signal // default SIGTERM
	StopGrace  time.Duration  // default 30s
	Port       int            // the port the server will listen on, for the ledger; 0 = none
	Ledger     string         // append-only file recording the launch (see AppendLedger); empty = none
	// LogFile, when set, is stdout+stderr instead of LogPath: a file the
	// caller opened (for example through an os.Root, so that a link planted
	// in a server's working folder cannot redirect the log). The caller
	// keeps it and closes it; the server gets its own copy.
	LogFile *os.File
}

// StopReport describes what Stop did.
type StopReport struct {
	// Signal is the strongest signal that was needed: StopSignal when
	// everything exited before SIGKILL, SIGKILL otherwise.
	Signal syscall.Signal
	// Graceful is true when the leader exited before SIGKILL was sent.
	Graceful bool
	// AlreadyExited is true when the leader had exited before Stop began.
	AlreadyExited bool
	// Killed lists the pids that were still alive when SIGKILL was sent,
	// and any that appeared afterwards and were killed too.
	Killed []int
	// Leftover lists the pids still alive when Stop gave up; non-empty
	// Leftover comes with an error.
	Leftover []int
	Duration time.Duration
}

// Process is a started process group. Its methods are safe for concurrent use.
type Process struct {
	// leader signals the leader through a pidfd, so that a recycled pid is
	// never hit; nil when the pid was recycled before Start returned.
	leader     *os.Process
	pid        int
	startTicks uint64 // the leader's start time, for the ledger
	stopSignal syscall.Signal
	stopGrace  time.Duration
	guard      *guardLink // nil when the leader is runexp's own child

	done     chan struct{}
	doneOnce sync.Once
	exitErr  error         // written by finish before done is closed
	exitCode int           // written by finish before done is closed
	stopping chan struct{} // closed when Stop begins; ends track

	// emptyScans counts scans that found the group empty after the leader
	// was reaped; at 2 the group is gone for good (groupGone).
	emptyScans atomic.Int32

	mu      sync.Mutex
	tracked map[int]uint64 // pid -> start time (clock ticks since boot)

	stopOnce sync.Once
	report   StopReport
	stopErr  error
}

var (
	regMu    sync.Mutex
	registry = map[*Process]struct{}{}
)

// Start starts the process described by opts in a new process group and
// returns once it runs. It returns an error when the command cannot start
// (empty argv, executable not found, log file not writable).
func Start(opts Options) (*Process, error) {
	argv := opts.Argv
	if opts.Shell {
		if len(argv) == 0 {
			return nil, errors.New("proc: empty shell command")
		}
		argv = []string{"/bin/sh", "-c", strings.Join(opts.Argv, " ")}
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("proc: empty argv")
	}
	if opts.StopSignal == 0 {
		opts.StopSignal = DefaultStopSignal
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}

	// exec.Command resolves the program (PATH lookup, its errors) the same
	// way whether runexp or the guard starts it.
	cmd := exec.Command(argv[0], argv[1:]...)
	if cmd.Err != nil {
		return nil, fmt.Errorf("proc: start %s: %w", argv[0], cmd.Err)
	}
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Dir = opts.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logFile *os.File
	switch {
	case opts.LogFile != nil:
		cmd.Stdout, cmd.Stderr = opts.LogFile, opts.LogFile
		logFile = opts.LogFile
	case opts.LogPath != "":
		// O_NOFOLLOW: a symbolic link planted at the log's name must not
		// redirect the server's output outside the run.
		f, err := os.OpenFile(opts.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return nil, fmt.Errorf("proc: open log: %w", err)
		}
		// The child keeps its own copy of the descriptor.
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
		logFile = f
	}

	// Hold the registry lock across Start so that a concurrent KillAll
	// cannot miss a process that has just been started.
	regMu.Lock()
	defer regMu.Unlock()
	var p *Process
	if Guarded() {
		var err error
		if p, err = startGuarded(cmd.Path, argv, opts, logFile); err != nil {
			return nil, err
		}
	} else {
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("proc: start %s: %w", argv[0], err)
		}
		p = newProcess(cmd.Process, cmd.Process.Pid, opts)
		if st, ok := ReadStat(p.pid); ok { // not reaped yet: the pid is still ours
			p.startTicks = st.StartTicks
		}
		go p.reap(cmd)
	}
	if opts.Ledger != "" {
		if err := AppendLedger(opts.Ledger, p.ledgerEntry(argv[0], opts.Port)); err != nil {
			p.Kill()
			go p.Stop(context.Background()) // reaps the guard; the caller gets no Process to stop
			return nil, err
		}
	}
	registry[p] = struct{}{}
	go p.track()
	return p, nil
}

func newProcess(leader *os.Process, pid int, opts Options) *Process {
	return &Process{
		leader:     leader,
		pid:        pid,
		stopSignal: opts.StopSignal,
		stopGrace:  opts.StopGrace,
		done:       make(chan struct{}),
		stopping:   make(chan struct{}),
		tracked:    map[int]uint64{},
	}
}

// track snapshots the tree until the leader exits or Stop begins. It stops
// at the leader's exit so that it never races the group-gone inference,
// which counts scans made after the reap; the pids it saw stay tracked.
func (p *Process) track() {
	t := time.NewTicker(trackInterval)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-p.stopping:
			return
		case <-t.C:
			if p.exited() {
				return // never scan after the reap: the group-gone inference counts those scans
			}
			p.collect()
		}
	}
}

// reap waits for a leader that is runexp's own child.
func (p *Process) reap(cmd *exec.Cmd) {
	err := cmd.Wait()
	p.finish(err, cmd.ProcessState.ExitCode())
}

// finish records the leader's exit (the first report wins) and closes Done.
func (p *Process) finish(err error, code int) {
	p.doneOnce.Do(func() {
		p.exitErr, p.exitCode = err, code
		if len(GroupMembers(p.pid)) == 0 {
			p.emptyScans.Add(1)
		}
		close(p.done)
	})
}

// Stopped reports whether Stop has been called.
func (p *Process) Stopped() bool {
	select {
	case <-p.stopping:
		return true
	default:
		return false
	}
}

// PID returns the leader's pid: the server's, never the guard's.
func (p *Process) PID() int { return p.pid }

// GuardPID returns the pid of the guard supervising the leader, or 0 when
// the leader was started directly.
func (p *Process) GuardPID() int {
	if p.guard == nil {
		return 0
	}
	return p.guard.pid()
}

// PGID returns the process group id (equal to the leader's pid).
func (p *Process) PGID() int { return p.pid }

// Done is closed once the leader has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr returns the leader's exit error once Done is closed (nil for exit
// status 0, otherwise an error such as "exit status 3" or "signal:
// killed": an *exec.ExitError when runexp started the leader, an *ExitError
// when a guard did, wrapping ErrGuardLost when the guard died first), and
// nil before.
func (p *Process) ExitErr() error {
	if !p.exited() {
		return nil
	}
	return p.exitErr
}

// ExitCode returns the leader's exit code once Done is closed, and -1 before
// or when it was ended by a signal.
func (p *Process) ExitCode() int {
	if !p.exited() {
		return -1
	}
	return p.exitCode
}

// Alive reports whether the leader is running (not exited, not a zombie).
func (p *Process) Alive() bool {
	if p.exited() {
		return false
	}
	if pi, ok := ReadStat(p.pid); ok {
		return !pi.Zombie()
	}
	return !p.exited() // reaped meanwhile, or no /proc
}

func (p *Process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Process) groupGone() bool { return p.emptyScans.Load() >= 2 }

// Stop ends the process tree; see the package documentation. ctx bounds only
// the graceful phase: SIGKILL and the bounded wait after it always happen.
// The error is non-nil when a process survived or a signal could not be sent.
func (p *Process) Stop(ctx context.Context) (StopReport, error) {
	p.stopOnce.Do(func() {
		close(p.stopping)
		p.report, p.stopErr = p.stop(ctx)
		regMu.Lock()
		delete(registry, p)
		regMu.Unlock()
	})
	r := p.report
	r.Killed = slices.Clone(r.Killed)
	r.Leftover = slices.Clone(r.Leftover)
	return r, p.stopErr
}

func (p *Process) stop(ctx context.Context) (StopReport, error) {
	start := time.Now()
	rep := StopReport{Signal: p.stopSignal, AlreadyExited: p.exited()}
	var errs []error

	// 1. StopSignal to the group and to known descendants outside it.
	if err := p.signal(p.collect(), p.stopSignal); err != nil {
		errs = append(errs, err)
	}

	// 2. Wait for the leader, then for the rest of the tree, within the grace.
	grace := time.NewTimer(p.stopGrace)
	defer grace.Stop()
	expired := false
	select {
	case <-p.done:
	case <-grace.C:
		expired = true
	case <-ctx.Done():
	}
	if p.exited() && !expired && ctx.Err() == nil {
		tick := time.NewTicker(pollInterval)
	wait:
		for len(p.collect()) > 0 {
			select {
			case <-tick.C:
			case <-grace.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		tick.Stop()
	}

	// 3. SIGKILL, always.
	rep.Graceful = p.exited()
	killed := map[int]bool{}
	set := p.collect()
	for pid := range set {
		killed[pid] = true
	}
	if err := p.signal(set, syscall.SIGKILL); err != nil {
		errs = append(errs, err)
	}

	// 4. Wait until nothing remains, re-killing anything that appeared.
	deadline := time.Now().Add(KillWait)
	for {
		set = p.collect()
		if len(set) == 0 && p.exited() {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		for pid := range set {
			killed[pid] = true
		}
		_ = p.signal(set, syscall.SIGKILL)
		time.Sleep(pollInterval)
	}

	for pid := range killed {
		rep.Killed = append(rep.Killed, pid)
	}
	slices.Sort(rep.Killed)
	for pid := range set {
		rep.Leftover = append(rep.Leftover, pid)
	}
	if !p.exited() && set[p.pid].PID == 0 {
		rep.Leftover = append(rep.Leftover, p.pid) // unreaped leader
	}
	if p.guard != nil {
		// Nothing is left for the guard to do: hanging up makes it exit.
		p.guard.hangUp()
		if !waitClosed(p.guard.gone, KillWait) {
			_ = p.guard.cmd.Process.Kill()
			if !waitClosed(p.guard.gone, KillWait) {
				rep.Leftover = append(rep.Leftover, p.guard.pid())
			}
		}
	}
	slices.Sort(rep.Leftover)
	if !rep.Graceful || len(rep.Killed) > 0 {
		rep.Signal = syscall.SIGKILL
	}
	rep.Duration = time.Since(start)
	if len(rep.Leftover) > 0 {
		errs = append(errs, fmt.Errorf("proc: pgid %d: %d process(es) survived SIGKILL after %v: %v",
			p.pid, len(rep.Leftover), KillWait, rep.Leftover))
	}
	return rep, errors.Join(errs...)
}

// Kill sends SIGKILL to the group, the leader and every known descendant,
// without waiting.
func (p *Process) Kill() {
	_ = p.signal(p.collect(), syscall.SIGKILL)
	if p.guard != nil && !p.guard.reaped() {
		p.guard.send("kill") // the guard sees descendants forked since our scan
	}
}

// KillAll sends SIGKILL to every registered process whose Stop has not
// returned yet, without waiting. Meant for a second Ctrl-C.
func KillAll() {
	regMu.Lock()
	ps := make([]*Process, 0, len(registry))
	for p := range registry {
		ps = append(ps, p)
	}
	regMu.Unlock()
	for _, p := range ps {
		p.Kill()
	}
}

// signal sends sig to the group (unless it is gone), to the leader when it
// left the group (always for SIGKILL), and to members of set: for SIGKILL
// to all of them, otherwise only to those outside the group, so that no
// process receives a graceful signal twice.
func (p *Process) signal(set map[int]Stat, sig syscall.Signal) error {
	var errs []error
	if !p.groupGone() {
		if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("proc: signal %v to pgid %d: %w", sig, p.pid, err))
		}
	}
	if !p.exited() && p.leader != nil {
		if li, ok := set[p.pid]; sig == syscall.SIGKILL || (ok && li.PGID != p.pid) {
			// os.Process uses a pidfd: no risk of hitting a recycled pid.
			if err := p.leader.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("proc: signal %v to pid %d: %w", sig, p.pid, err))
			}
		}
	}
	for pid, pi := range set {
		if pid == p.pid || (sig != syscall.SIGKILL && pi.PGID == p.pid) {
			continue
		}
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("proc: signal %v to pid %d: %w", sig, pid, err))
		}
	}
	return errors.Join(errs...)
}

// collect returns the live (non-zombie) processes of the tree, keyed by pid,
// and refreshes the tracked set.
func (p *Process) collect() map[int]Stat {
	reaped := p.exited() // before the scan, for the group-gone inference
	guarded := p.guard != nil && !p.guard.reaped()
	s := scanProcs()
	if s == nil {
		return map[int]Stat{}
	}
	self := os.Getpid()
	set := map[int]Stat{}
	var queue []int
	add := func(pi Stat, ok bool) {
		if !ok || pi.Zombie() || pi.PID <= 1 || pi.PID == self {
			return
		}
		if _, dup := set[pi.PID]; dup {
			return
		}
		set[pi.PID] = pi
		queue = append(queue, pi.PID)
	}
	if !reaped {
		pi, ok := s.procs[p.pid]
		add(pi, ok)
	}
	if guarded {
		// The guard is a subreaper: every process the server ever started,
		// double-forked daemons included, descends from it.
		for _, pid := range s.descendants(p.guard.pid()) {
			pi, ok := s.procs[pid]
			add(pi, ok)
		}
	}
	if !p.groupGone() {
		n := len(set)
		for _, m := range s.groups[p.pid] {
			pi, ok := s.procs[m]
			add(pi, ok)
		}
		if reaped && len(set) == n {
			p.emptyScans.Add(1)
		}
	}
	p.mu.Lock()
	for pid, st := range p.tracked {
		pi, ok := s.procs[pid]
		if !ok || pi.StartTicks != st || pi.Zombie() {
			delete(p.tracked, pid)
			continue
		}
		add(pi, true)
	}
	p.mu.Unlock()
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range s.children[pid] {
			pi, ok := s.procs[c]
			add(pi, ok)
		}
		if pid != p.pid && set[pid].PGID == pid { // leads a group of its own
			for _, m := range s.groups[pid] {
				pi, ok := s.procs[m]
				add(pi, ok)
			}
		}
	}
	p.mu.Lock()
	for pid, pi := range set {
		if pid != p.pid {
			p.tracked[pid] = pi.StartTicks
		}
	}
	p.mu.Unlock()
	return set
}

// TreePIDs returns, sorted, the leader (if alive), the live members of its
// group and all known live descendants (see the package documentation), and
// records them in the tracked set used by Stop and Kill.
func TreePIDs(p *Process) []int {
	set := p.collect()
	out := make([]int, 0, len(set))
	for pid := range set {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// waitClosed waits up to d for ch to be closed.
func waitClosed(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}
