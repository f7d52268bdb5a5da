//go:build linux

package proc

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// guardSupported: the guard needs PR_SET_CHILD_SUBREAPER and /proc.
const guardSupported = true

// becomeSubreaper makes the calling process the reaper of every orphaned
// descendant, so a double-forked daemon stays in its tree.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// leaderAttr is how the guard starts the server: in a group of its own, and
// killed by the kernel should the guard itself die (PR_SET_PDEATHSIG). The
// death signal follows the forking thread; the guard forks from a thread
// locked to its main goroutine, which lives as long as the guard, so it
// cannot fire while the guard runs.
func leaderAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
