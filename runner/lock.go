package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/runexp/runexp/internal/proc"
)

// LockName is the file, in a run folder, that names the runexp process
// working on the run. It exists while a run or a resume executes.
const LockName = "runexp.lock"

// ErrRunLocked is returned when another live runexp process works on the
// run folder: two processes must never write one run.
var ErrRunLocked = errors.New("run folder is in use by another runexp")

// LockOwner is the content of a lock file: enough to tell the process that
// holds it from a later one that got its pid.
type LockOwner struct {
	PID        int       `json:"pid"`
	StartTicks uint64    `json:"pid_start_ticks,omitempty"`
	Host       string    `json:"host"`
	Since      time.Time `json:"since"`
}

// String names the owner in messages.
func (o LockOwner) String() string {
	return fmt.Sprintf("runexp pid %d on %s (since %s)", o.PID, o.Host, o.Since.Format(time.RFC3339))
}

// gone reports whether the owner has certainly exited. An owner on another
// host is never declared gone.
func (o LockOwner) gone() bool { return processGone(o.PID, o.StartTicks, o.Host) }

// processGone reports whether the process pid (started at ticks, when
// known) on host has certainly exited: no such pid, a zombie, or a pid
// recycled by a later process.
func processGone(pid int, ticks uint64, host string) bool {
	if pid <= 0 {
		return false
	}
	if h, _ := os.Hostname(); h != host {
		return false
	}
	st, ok := proc.ReadStat(pid)
	if !ok {
		// No such process, or no /proc: ask the kernel directly.
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	return st.Zombie() || (ticks != 0 && st.StartTicks != ticks)
}

// runLock is a held run-folder lock. The file carries the owner for
// messages; flock(2) on it is what excludes, so that the kernel releases it
// when its holder dies however it dies, and two processes that both find a
// stale lock cannot both take it over.
type runLock struct {
	f    *os.File
	path string
}

// lockRunFolder takes the lock of runDir for this process. A lock held by
// a live runexp is refused with an error wrapping ErrRunLocked that names
// the holder; a stale one (its process gone) is taken over, saying so on
// out.
func lockRunFolder(runDir string, out io.Writer) (*runLock, error) {
	if out == nil {
		out = io.Discard
	}
	path := filepath.Join(runDir, LockName)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("run folder lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			prev, _ := readLockOwner(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: %s is locked by %s", ErrRunLocked, runDir, prev)
			}
			return nil, fmt.Errorf("run folder lock %s: %w", path, err)
		}
		// The holder we waited on may have removed the file before we
		// locked it: then our lock is on a file nobody else will open.
		if !samePath(f, path) {
			f.Close()
			continue
		}
		prev, err := readLockOwner(f)
		if err == nil && prev.PID > 0 {
			if !prev.gone() {
				// Alive but not holding the flock: another host on a
				// shared file system, or a file system without flock.
				f.Close()
				return nil, fmt.Errorf("%w: %s is locked by %s", ErrRunLocked, runDir, prev)
			}
			fmt.Fprintf(out, "taking over the stale lock of %s: that process is gone\n", prev)
		}
		if err := writeLockOwner(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("run folder lock %s: %w", path, err)
		}
		return &runLock{f: f, path: path}, nil
	}
}

// release removes the lock file, then drops the lock; nil-safe and
// idempotent.
func (l *runLock) release() {
	if l == nil || l.f == nil {
		return
	}
	os.Remove(l.path)
	l.f.Close()
	l.f = nil
}

func samePath(f *os.File, path string) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(held, now)
}

func readLockOwner(f *os.File) (LockOwner, error) {
	var o LockOwner
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil {
		return o, err
	}
	if len(data) == 0 {
		return o, io.EOF
	}
	return o, json.Unmarshal(data, &o)
}

func writeLockOwner(f *os.File) error {
	host, _ := os.Hostname()
	o := LockOwner{PID: os.Getpid(), Host: host, Since: time.Now().UTC()}
	if st, ok := proc.ReadStat(o.PID); ok {
		o.StartTicks = st.StartTicks
	}
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(data, '\n'), 0)
	return err
}
