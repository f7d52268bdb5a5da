package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runexp/runexp/internal/enginelog"
	"github.com/runexp/runexp/internal/proc"
)

// ErrServerExited marks a launched server that ended before its teardown
// (see Env.WatchServers).
var ErrServerExited = errors.New("server exited before its teardown")

// ServerExitedError is a launched server that ended on its own while later
// steps of its point ran.
type ServerExitedError struct {
	Server string // the launch step's id
	Status string // "exit status 3", "signal: killed", "exit status 0"
	Reason string // the log's failure line, or ""
}

func (e *ServerExitedError) Error() string {
	msg := fmt.Sprintf("%v (%s: %s)", ErrServerExited, e.Server, e.Status)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrServerExited) true.
func (e *ServerExitedError) Unwrap() error { return ErrServerExited }

// watchInterval is how often WatchServers looks at the launched servers.
const watchInterval = 100 * time.Millisecond

// serverGone reports whether s has ended: its leader exited with an error,
// or exited 0 and nothing of its tree is left. A leader that exits 0 while
// a descendant goes on (a launch script that daemonises) is a supported way
// to run, so that alone is not an end.
func serverGone(s *Server) bool {
	select {
	case <-s.Proc.Done():
	default:
		return false
	}
	return s.Proc.ExitErr() != nil || len(proc.TreePIDs(s.Proc)) == 0
}

// exitDetails words how s ended and the log line that best explains it.
func exitDetails(s *Server) (status, reason string) {
	status = "exit status 0"
	if err := s.Proc.ExitErr(); err != nil {
		status = err.Error()
	}
	if text, err := readLog(s.LogPath); err == nil {
		// A recognised engine failure (vLLM's "larger than the available
		// KV cache memory", CUDA OOM, ...) reads better than a raw line.
		if r := enginelog.FailureReason(text); r != "" {
			reason = r
		} else {
			reason = failureLine(proc.Tail(s.LogPath, 40))
		}
	}
	return status, reason
}

// exitedAmong returns a *ServerExitedError for the first of servers that
// ended on its own (not through a teardown or the cleanup stack), or nil.
func exitedAmong(servers []*Server) error {
	for _, s := range servers {
		if !s.Proc.Stopped() && serverGone(s) {
			status, reason := exitDetails(s)
			return &ServerExitedError{Server: s.ID, Status: status, Reason: reason}
		}
	}
	return nil
}

// WatchServers watches the servers launched at this point so far while a
// step runs: a server that crashes after it was ready fails the step that
// runs meanwhile instead of going unnoticed. The returned context, derived
// from ctx, is cancelled with a *ServerExitedError as its cause as soon as
// one of them ends on its own; servers being stopped are not watched, nor
// are servers the step itself launches (wait-ready reports how those end).
// stop releases the watcher and returns a *ServerExitedError for a watched
// server that has ended by then, or nil.
func (e *Env) WatchServers(ctx context.Context) (watched context.Context, stop func() error) {
	wctx, cancel := context.WithCancelCause(ctx)
	servers := e.Servers()
	if len(servers) == 0 {
		return wctx, func() error { cancel(nil); return nil }
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		for {
			if err := exitedAmong(servers); err != nil {
				cancel(err)
				return
			}
			select {
			case <-done:
				return
			case <-wctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return wctx, func() error {
		close(done)
		cancel(nil)
		var exited *ServerExitedError
		if errors.As(context.Cause(wctx), &exited) {
			return exited
		}
		return exitedAmong(servers)
	}
}
