package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/internal/slurm"
	"github.com/runexp/runexp/runner"
)

// interruptible is runexp's one signal handler, used by every subcommand:
// the first SIGINT, SIGTERM or SIGHUP cancels the returned context with
// cause exitcode.ErrInterrupted (printing notice, when not empty), so the
// command stops gracefully and tears down what it started; a second one
// kills every process group runexp started, marks the runs in progress
// killed (runner.MarkKilled) and exits 130 at once. stop
// releases the signals; it may be called more than once.
//
// While it runs SIGPIPE is caught, not ignored: a closed stdout (`runexp ...
// | tee log`, and Ctrl-C ended tee) makes writes fail with EPIPE instead of
// killing runexp before its servers are torn down, and launched servers
// still get the default disposition.
func interruptible(parent context.Context, stderr io.Writer, notice string) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			if notice != "" {
				fmt.Fprintf(stderr, "\nrunexp: %v: %s\n", sig, notice)
			}
			cancel(exitcode.ErrInterrupted)
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "runexp: killing every process group now")
			proc.KillAll()
			slurm.KillActive()  // the arrays this runexp submitted: SIGKILL, cancelled
			runner.MarkKilled() // the manifest says killed, not running
			os.Exit(exitcode.Interrupted)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			signal.Stop(pipes)
			close(done)
			cancel(nil)
		})
	}
}

// runCommand runs one subcommand under the signal handler and maps what it
// returns to an exit code, printing the error after prog unless it was
// reported already (or is -h).
func runCommand(prog string, stderr io.Writer, fn func(ctx context.Context) error) int {
	ctx, stop := interruptible(context.Background(), stderr, "")
	defer stop()
	return exitWith(prog, fn(ctx), stderr)
}

// exitWith prints err (unless it was reported or asked for help) and
// returns its exit code.
func exitWith(prog string, err error, stderr io.Writer) int {
	code := exitcode.Of(err)
	if err != nil && code != exitcode.OK && !exitcode.IsReported(err) {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	}
	return code
}

// parseFlags parses args into fs; -h returns flag.ErrHelp (exit 0), a bad
// flag an error the flag package has already printed (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	return parseFlagsError(fs.Parse(args))
}

// parseFlagsError marks an error of flag.FlagSet.Parse, which has printed
// it: -h stays flag.ErrHelp (exit 0), anything else is reported usage.
func parseFlagsError(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return exitcode.Reported(exitcode.UsageError(err))
}
