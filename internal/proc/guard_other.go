//go:build !linux

package proc

import (
	"errors"
	"syscall"
)

// guardSupported: without a subreaper and /proc the guard could not keep
// track of orphans, so Start runs servers directly.
const guardSupported = false

func becomeSubreaper() error { return errors.New("proc: no child subreaper on this system") }

func leaderAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
