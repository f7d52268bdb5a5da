package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// cmdCheck is `runexp check FILE [--set NAME=VALUE]...`: compile the spec
// and run only the preflight, so a user learns what this machine lacks
// without starting anything.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sets setFlags
	fs.Var(&sets, "set", "override a var: NAME=VALUE (repeatable)")
	var only onlyFlags
	fs.Var(&only, "only", "run only the points where AXIS=VALUE (repeatable)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitcode.Of(parseFlagsError(err))
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "runexp check: want exactly one spec file, got %d\n", len(files))
		return ExitUsage
	}
	out, _ := filepath.Abs("runs")
	plan, err := runner.Load(files[0], steps.Builtin(), runner.Options{Overrides: sets, Only: only, OutDir: out, CountOnly: true})
	if err != nil {
		return reportSpecError(err, stderr)
	}
	if code := preflight(plan, stderr); code != ExitOK {
		return code
	}
	if plan.Executor == spec.ExecutorSlurm {
		fmt.Fprintf(stdout, "%s: ready to submit from this host (each node checks its programs, ports and GPUs)\n", files[0])
		return ExitOK
	}
	fmt.Fprintf(stdout, "%s: ready to run on this machine\n", files[0])
	return ExitOK
}

// preflight checks the machine for plan before anything runs or is
// written; a problem is a usage error (exit 2) with what to change.
func preflight(plan *runner.Plan, stderr io.Writer) int {
	err := runner.Preflight(context.Background(), plan, runner.PreflightOptions{GPUs: open.Opener{}})
	var pe *runner.PreflightError
	if errors.As(err, &pe) {
		fmt.Fprintln(stderr, "runexp:", pe.Error())
		return ExitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "runexp:", err)
		return ExitFailed
	}
	return ExitOK
}
