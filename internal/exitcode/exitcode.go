// Package exitcode is runexp's one table of process exit codes, shared by
// the command line (internal/cli) and the runner, and the error marks that
// let library packages return errors the command line maps to those codes.
//
// Contract: OK (0) everything succeeded; Failed (1) the work ran and some of
// it failed; Usage (2) bad flags, arguments or spec; Interrupted (130) a
// signal stopped it. Of maps an error to its code.
package exitcode

import (
	"context"
	"errors"
	"flag"
)

// The exit codes.
const (
	OK          = 0
	Failed      = 1
	Usage       = 2
	Interrupted = 130
)

// ErrUsage is matched (errors.Is) by every error of bad command-line usage.
var ErrUsage = errors.New("usage")

// ErrInterrupted is the cause of a context cancelled by a signal.
var ErrInterrupted = errors.New("interrupted")

// UsageError marks err as bad usage: Of maps it to Usage.
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrUsage}
}

// errReported marks errors already printed where they happened (the flag
// package's messages, the simulator's vLLM-style startup errors).
var errReported = errors.New("reported")

// Reported marks err as already printed: the command line exits with its
// code without printing it again.
func Reported(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: errReported}
}

// IsReported reports whether err was marked by Reported.
func IsReported(err error) bool { return errors.Is(err, errReported) }

type markedError struct{ err, mark error }

func (e *markedError) Error() string   { return e.err.Error() }
func (e *markedError) Unwrap() []error { return []error{e.err, e.mark} }

// Of maps an error to its exit code: nil and flag.ErrHelp (-h) are OK,
// ErrInterrupted and context.Canceled Interrupted, ErrUsage Usage, anything
// else Failed.
func Of(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return OK
	case errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled):
		return Interrupted
	case errors.Is(err, ErrUsage):
		return Usage
	}
	return Failed
}
