package proc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LedgerName is the file, in a run folder, that records every launched
// server of the run.
const LedgerName = "launched.jsonl"

// LedgerEntry is one launched server as recorded in a ledger: enough to
// find what is left of it after runexp was killed, and no more. Start
// times (clock ticks after boot, /proc/PID/stat field 22) tell a live
// process from a later one that got a recycled pid. Host and boot id tell
// this machine from another node sharing the run folder (a cluster
// executor's tasks), or from this node before a reboot: a pid means
// nothing there.
type LedgerEntry struct {
	Time       time.Time     `json:"time"`
	Host       string        `json:"host,omitempty"`    // os.Hostname of the launching machine; empty in ledgers of older runexps
	BootID     string        `json:"boot_id,omitempty"` // its /proc/sys/kernel/random/boot_id; empty where there is none
	Argv0      string        `json:"argv0"`
	PID        int           `json:"pid"`  // the leader, as runexp records it in <id>_pid
	PGID       int           `json:"pgid"` // the leader's group (equal to PID)
	StartTicks uint64        `json:"start_ticks"`
	GuardPID   int           `json:"guard_pid,omitempty"`
	GuardTicks uint64        `json:"guard_start_ticks,omitempty"`
	Port       int           `json:"port,omitempty"`
	StopSignal int           `json:"stop_signal"`
	StopGrace  time.Duration `json:"stop_grace_ns"`
}

func (p *Process) ledgerEntry(argv0 string, port int) LedgerEntry {
	host, boot := thisMachine()
	e := LedgerEntry{
		Time: time.Now().UTC(), Host: host, BootID: boot, Argv0: argv0, PID: p.pid, PGID: p.pid, StartTicks: p.startTicks,
		Port: port, StopSignal: int(p.stopSignal), StopGrace: p.stopGrace,
	}
	if g := p.GuardPID(); g > 0 {
		e.GuardPID = g
		if st, ok := ReadStat(g); ok { // runexp's unreaped child
			e.GuardTicks = st.StartTicks
		}
	}
	return e
}

// thisMachine is the host name and boot id that ledger entries record.
var thisMachine = sync.OnceValues(func() (host, boot string) {
	host, _ = os.Hostname()
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return host, strings.TrimSpace(string(b))
})

// Elsewhere names where e was launched when that is not this machine as
// it runs now: "host NAME", or "host NAME before its reboot"; "" when e
// was launched here or does not say where (a ledger of an older runexp,
// which is taken as local, as it was then).
func (e LedgerEntry) Elsewhere() string {
	host, boot := thisMachine()
	switch {
	case e.Host == "" || host == "":
		return ""
	case e.Host != host:
		return "host " + e.Host
	case e.BootID != "" && boot != "" && e.BootID != boot:
		return "host " + e.Host + " before its reboot"
	}
	return ""
}

// AppendLedger appends e to the ledger at path as one JSON line, written
// with one write(2) on an O_APPEND file, so concurrent launches never
// interleave and a killed runexp leaves at most a torn last line.
func AppendLedger(path string, e LedgerEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("proc: ledger: %w", err)
	}
	// O_NOFOLLOW: a link planted at the ledger's name must not redirect it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("proc: ledger: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("proc: ledger: %w", werr)
	}
	return nil
}

// ReadLedger returns the entries of the ledger at path, oldest first. A
// missing file has no entries; a torn or unreadable line (runexp killed
// mid-write) is skipped.
func ReadLedger(path string) ([]LedgerEntry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("proc: ledger: %w", err)
	}
	var out []LedgerEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e LedgerEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.PID > 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

// Leftovers returns, sorted, the live processes that belong to e: its
// guard and the guard's descendants, its leader and the leader's
// descendants, and the members of its group (with their descendants) that
// started no earlier than the leader. Processes are matched by pid and
// start time, so a recycled pid is never named; a group whose number now
// belongs to a later leader is left alone. An entry launched Elsewhere has
// no leftovers here: its pids are another machine's.
func (e LedgerEntry) Leftovers() []int {
	if e.Elsewhere() != "" {
		return nil
	}
	s := scanProcs()
	if s == nil {
		return nil
	}
	return e.leftoversIn(s)
}

func (e LedgerEntry) leftoversIn(s *snapshot) []int {
	self := os.Getpid()
	set := map[int]bool{}
	add := func(pid int) {
		pi, ok := s.procs[pid]
		if !ok || pi.Zombie() || pid <= 1 || pid == self || set[pid] {
			return
		}
		set[pid] = true
		for _, d := range s.descendants(pid) {
			if d != self {
				set[d] = true
			}
		}
	}
	same := func(pid int, ticks uint64) bool {
		pi, ok := s.procs[pid]
		return ok && pid > 0 && pi.StartTicks == ticks
	}
	if e.GuardPID > 0 && same(e.GuardPID, e.GuardTicks) {
		add(e.GuardPID)
	}
	if same(e.PID, e.StartTicks) {
		add(e.PID)
	}
	if lead, ok := s.procs[e.PGID]; e.PGID > 1 && (!ok || lead.StartTicks == e.StartTicks) {
		for _, m := range s.groups[e.PGID] {
			if s.procs[m].StartTicks >= e.StartTicks {
				add(m)
			}
		}
	}
	out := make([]int, 0, len(set))
	for pid := range set {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// ReapLedger stops what is left of every launch recorded in the ledger at
// path (a run that runexp did not finish), of the entries launched on this
// machine (see Elsewhere): each entry's stop signal, then,
// after its stop grace or when ctx is done, SIGKILL, and at most KillWait
// more for everything to disappear. It returns the pids it found; the
// error names any that survived.
func ReapLedger(ctx context.Context, path string) ([]int, error) {
	entries, err := ReadLedger(path)
	if err != nil {
		return nil, err
	}
	found := map[int]bool{}
	left := func(e LedgerEntry) []int {
		pids := e.Leftovers()
		for _, pid := range pids {
			found[pid] = true
		}
		return pids
	}
	var grace time.Duration
	for _, e := range entries {
		sig := syscall.Signal(e.StopSignal)
		if sig == 0 {
			sig = DefaultStopSignal
		}
		for _, pid := range left(e) {
			_ = syscall.Kill(pid, sig)
		}
		grace = max(grace, e.StopGrace)
	}
	anyLeft := func(kill bool) bool {
		n := 0
		for _, e := range entries {
			pids := left(e)
			n += len(pids)
			if kill {
				for _, pid := range pids {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		return n > 0
	}
	graceEnd := time.Now().Add(grace)
	for anyLeft(false) && time.Now().Before(graceEnd) && ctx.Err() == nil {
		time.Sleep(pollInterval)
	}
	killEnd := time.Now().Add(KillWait)
	for anyLeft(true) && time.Now().Before(killEnd) {
		time.Sleep(pollInterval)
	}
	var survivors []int
	for _, e := range entries {
		survivors = append(survivors, e.Leftovers()...)
	}
	pids := make([]int, 0, len(found))
	for pid := range found {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	if len(survivors) > 0 {
		slices.Sort(survivors)
		return pids, fmt.Errorf("proc: ledger %s: %d process(es) survived SIGKILL: %v", path, len(survivors), slices.Compact(survivors))
	}
	return pids, nil
}
