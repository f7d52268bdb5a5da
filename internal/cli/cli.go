// Package cli implements runexp's command line: parse flags, load the spec,
// compile the plan, execute it, and map the outcome to an exit code
// (0 ok, 1 some points failed, 2 bad spec or usage, 130 interrupted).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/internal/schema"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// Version is set with -ldflags "-X github.com/runexp/runexp/internal/cli.Version=...";
// otherwise it is the git commit the binary was built from, when known.
var Version = "dev"

func init() {
	if Version != "dev" {
		return
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		Version = "dev-" + rev
		if dirty {
			Version += "-dirty"
		}
	}
}

// The exit codes, from the one table in internal/exitcode.
const (
	ExitOK          = exitcode.OK
	ExitFailed      = exitcode.Failed
	ExitUsage       = exitcode.Usage
	ExitInterrupted = exitcode.Interrupted
)

const usage = `runexp runs declarative LLM-serving experiments.

Usage:
  runexp FILE [flags]              run an experiment (same as runexp run FILE)
  runexp run FILE [flags]          run an experiment
  runexp resume RUN_DIR [--failed] continue an interrupted run: keep its finished points, run the rest
  runexp run-point RUN_DIR STUDY/POINT
                                   run one point of a run folder (what a Slurm task runs)
  runexp plan FILE [flags]         dry run: print every point and step as it would run
  runexp validate FILE...          check spec files; print every problem
  runexp check FILE [flags]        check this machine for a run: programs, GPU backends, ports, API keys
  runexp steps [KIND]              list the step kinds, or one kind's fields
  runexp schema                    print the JSON Schema of spec files
  runexp load [flags]              ad-hoc load against an OpenAI-compatible server
  runexp sim serve [MODEL] [flags] the built-in simulated vLLM server
  runexp capacity MODEL [flags]    plan vLLM's KV capacity per GPU, length and utilisation
  runexp gguf [flags]              write a random-weight llama GGUF that never emits EOS
  runexp ollama-create [flags]     register a GGUF as a model on a running Ollama
  runexp report RUN_DIR [-o FILE] [--baseline BASE_DIR]
                                   (re)write a run folder's self-contained report.html
  runexp compare BASE NEW [--metric NAME[:higher|lower]]... [--threshold 5%] [--format text|markdown|json]
                                   compare two runs; exit 1 when a metric regressed
  runexp version

Flags of run and plan:
  --set NAME=VALUE   override a var of the file; NAME=[v1,v2] replaces a sweep axis' values (repeatable)
  --only AXIS=VALUE  run only the points where AXIS is VALUE (repeatable; studies without AXIS are left out)
  --out DIR          parent folder of run directories (default runs)
  --json             plan: print the plan as JSON
  --resume RUN_DIR   run: continue RUN_DIR with FILE (points whose identity changed run again)
  --failed           resume: also run again the points that failed
  --parallel N       run up to N points at once, each on its own slot (spec: parallel:, slots:)
  --executor NAME    run: where points run, local or slurm (one array job per study; spec: executor:, slurm:)

Exit codes: 0 all points ok, 1 some points failed, 2 bad spec or usage, 130 interrupted.
`

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	case "version", "--version":
		fmt.Fprintln(stdout, "runexp", Version)
		return ExitOK
	case "run":
		return cmdRun(args[1:], stdout, stderr, false)
	case "plan":
		return cmdRun(args[1:], stdout, stderr, true)
	case "resume":
		return cmdResume(args[1:], stdout, stderr)
	case "run-point":
		return cmdRunPoint(args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "steps":
		return cmdSteps(args[1:], stdout, stderr)
	case "schema":
		if len(args) > 1 && isHelp(args[1]) {
			printHelp(stdout, "runexp schema", "Prints the JSON Schema of spec files, generated from the Go types\n(the committed copy is schemas/runexp.schema.json).", nil)
			return ExitOK
		}
		data, err := schema.Generate(steps.Builtin())
		if err != nil {
			fmt.Fprintln(stderr, "runexp:", err)
			return ExitFailed
		}
		stdout.Write(data)
		return ExitOK
	case "load":
		return runCommand("load", stderr, func(ctx context.Context) error { return cmdLoad(ctx, args[1:], stdout, stderr) })
	case "sim":
		return runCommand("runexp sim", stderr, func(ctx context.Context) error { return cmdSim(ctx, args[1:], stdout, stderr) })
	case "capacity":
		return runCommand("capacity", stderr, func(context.Context) error { return cmdCapacity(args[1:], stdout, stderr) })
	case "gguf":
		return GGUF("runexp gguf", args[1:], stdout, stderr)
	case "ollama-create":
		return runCommand("ollama-create", stderr, func(ctx context.Context) error { return cmdOllamaCreate(ctx, args[1:], stdout, stderr) })
	case "report":
		return runCommand("runexp report", stderr, func(ctx context.Context) error { return cmdReport(ctx, args[1:], stdout, stderr) })
	case "compare":
		return runCommand("runexp compare", stderr, func(ctx context.Context) error { return cmdCompare(ctx, args[1:], stdout, stderr) })
	}
	if strings.HasPrefix(args[0], "-") {
		return cmdRun(args, stdout, stderr, false) // run's flags before the file; run reports unknown ones
	}
	if _, err := os.Stat(args[0]); err != nil && !strings.HasSuffix(args[0], ".yaml") && !strings.HasSuffix(args[0], ".yml") {
		fmt.Fprintf(stderr, "runexp: unknown command %q%s\n\n%s", args[0],
			spec.DidYouMean(args[0], []string{"run", "plan", "resume", "run-point", "validate", "check", "steps", "schema", "load", "sim", "capacity", "gguf", "ollama-create", "report", "compare", "version"}), usage)
		return ExitUsage
	}
	return cmdRun(args, stdout, stderr, false)
}

type setFlags []spec.Override

func (s *setFlags) String() string { return "" }
func (s *setFlags) Set(v string) error {
	o, err := spec.ParseOverride(v)
	if err != nil {
		return err
	}
	*s = append(*s, o)
	return nil
}

// onlyFlags are --only AXIS=VALUE.
type onlyFlags []spec.Override

func (o *onlyFlags) String() string { return "" }
func (o *onlyFlags) Set(v string) error {
	x, err := spec.ParseOverride(v)
	if err != nil {
		return fmt.Errorf("--only %q: want AXIS=VALUE", v)
	}
	*o = append(*o, x)
	return nil
}

// parseInterleaved parses flags that may come before or after the file.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func cmdRun(args []string, stdout, stderr io.Writer, planOnly bool) int {
	name := "run"
	if planOnly {
		name = "plan"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if planOnly {
		setHelp(fs, "runexp plan FILE [flags]", "Dry run: prints every point and step of FILE as it would run, after\nsubstitution; runs nothing.")
	} else {
		setHelp(fs, "runexp run FILE [flags]   (or runexp FILE [flags])", "Runs every study of FILE and writes its run directory under --out.")
	}
	var sets setFlags
	fs.Var(&sets, "set", "override a var: NAME=VALUE, or a sweep axis: AXIS=[v1,v2] (repeatable)")
	var only onlyFlags
	fs.Var(&only, "only", "run only the points where AXIS=VALUE (repeatable)")
	out := fs.String("out", "runs", "parent folder of run directories")
	asJSON := fs.Bool("json", false, "plan: print JSON")
	resumeDir := fs.String("resume", "", "run: continue this run folder")
	parallel := fs.Int("parallel", 0, "points run at once, each on its own slot (overrides the spec's parallel:)")
	failed := fs.Bool("failed", false, "with --resume: also run again the points that failed")
	var executor executorFlag
	fs.Var(&executor, "executor", "where points run: local or slurm (overrides the spec's executor:); plan shows each study's sbatch command")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitcode.Of(parseFlagsError(err))
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "runexp %s: want exactly one spec file, got %d\n", name, len(files))
		return ExitUsage
	}
	// Absolute, so ${run.dir} and ${point.dir} mean the same folder to every
	// step, whatever its working directory (steps run in their point folder);
	// plan shows the same paths run uses.
	if abs, err := filepath.Abs(*out); err == nil {
		*out = abs
	}
	if *resumeDir != "" && !planOnly {
		runDir, err := filepath.Abs(*resumeDir)
		if err != nil {
			fmt.Fprintln(stderr, "runexp run:", err)
			return ExitUsage
		}
		if m, err := runner.ReadManifest(runDir); err == nil && m.Executor != nil && executor == "" {
			executor = executorFlag(m.Executor.Name) // its earlier jobs are stopped first
		}
		plan, err := runner.Load(files[0], steps.Builtin(), runner.Options{Overrides: sets, RunDir: runDir, Parallel: *parallel, HostGPUs: hostGPUs, Executor: spec.ExecutorKind(executor)})
		if err != nil {
			return reportSpecError(err, stderr)
		}
		return resume(plan, runner.ResumeOptions{Failed: *failed}, stdout, stderr)
	}
	if planOnly {
		// Checked first without holding the points, then printed one point
		// at a time: a plan's memory does not grow with its sweep.
		plan, err := runner.Load(files[0], steps.Builtin(), runner.Options{Overrides: sets, Only: only, OutDir: *out, CountOnly: true, Parallel: *parallel, HostGPUs: hostGPUs, Executor: spec.ExecutorKind(executor)})
		if err != nil {
			return reportSpecError(err, stderr)
		}
		write := plan.WriteText
		if *asJSON {
			write = plan.WriteJSON
		}
		if err := write(stdout); err != nil {
			fmt.Fprintln(stderr, "runexp:", err)
			return ExitFailed
		}
		return ExitOK
	}
	compileRun := func() (*runner.Plan, int) {
		return compile(files[0], sets, only, *out, *parallel, spec.ExecutorKind(executor), stderr)
	}
	plan, code := compileRun()
	if plan == nil {
		return code
	}
	if err := checkExecutor(plan); err != nil {
		fmt.Fprintln(stderr, "runexp:", err)
		return ExitUsage
	}
	// With a cluster executor this checks only what does not depend on the
	// node (the environment); the submit host needs no GPU.
	if code := preflight(plan, stderr); code != ExitOK {
		return code // before the run folder exists
	}
	return execute(plan, compileRun, stdout, stderr)
}

// maxRunDirRetries bounds how often run compiles again when another run
// took its folder first (runs started in the same second into one --out).
const maxRunDirRetries = 100

func compile(file string, sets, only []spec.Override, out string, parallel int, executor spec.ExecutorKind, stderr io.Writer) (*runner.Plan, int) {
	plan, err := runner.Load(file, steps.Builtin(), runner.Options{Overrides: sets, Only: only, OutDir: out, Parallel: parallel, HostGPUs: hostGPUs, Executor: executor})
	if err != nil {
		return nil, reportSpecError(err, stderr)
	}
	return plan, ExitOK
}

func reportSpecError(err error, stderr io.Writer) int {
	var list spec.ErrorList
	var usage *runner.UsageError
	switch {
	case errors.As(err, &list):
		fmt.Fprintln(stderr, list.Error())
		fmt.Fprintf(stderr, "%d problem(s)\n", len(list))
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "runexp:", usage.Error())
	default:
		fmt.Fprintln(stderr, "runexp:", err)
	}
	return ExitUsage
}

// execute runs a plan under runexp's signal handler: the first Ctrl-C (or
// SIGTERM/SIGHUP) stops gracefully and tears everything down; a second one
// kills every process group at once. When another run took the plan's
// folder first, the spec is compiled again (the next free name) and run.
func execute(plan *runner.Plan, recompile func() (*runner.Plan, int), stdout, stderr io.Writer) int {
	ctx, stop := interruptible(context.Background(), stderr, "stopping gracefully, tearing down servers (again to kill everything now)")
	defer stop()
	start := time.Now()
	res, err := runner.Execute(ctx, plan, runner.ExecOptions{Out: stdout, Version: Version, GPUs: open.Opener{}, Executor: executorFor(plan)})
	for retry := 0; errors.Is(err, runner.ErrRunDirTaken) && retry < maxRunDirRetries && ctx.Err() == nil; retry++ {
		var code int
		if plan, code = recompile(); plan == nil {
			return code
		}
		res, err = runner.Execute(ctx, plan, runner.ExecOptions{Out: stdout, Version: Version, GPUs: open.Opener{}, Executor: executorFor(plan)})
	}
	if err != nil {
		fmt.Fprintln(stderr, "runexp:", err)
		return ExitFailed
	}
	fmt.Fprintf(stdout, "done in %s\n", time.Since(start).Round(time.Millisecond))
	return res.ExitCode()
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setHelp(fs, "runexp validate FILE... [flags]", "Checks spec files and prints every problem as file:line:col; exit 0 or 2.")
	var sets setFlags
	fs.Var(&sets, "set", "override a var: NAME=VALUE (repeatable)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitcode.Of(parseFlagsError(err))
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "runexp validate: give one or more spec files")
		return ExitUsage
	}
	code := ExitOK
	for _, f := range files {
		// Counting only: validate checks every point without keeping it,
		// so its memory does not grow with the sweep.
		plan, err := runner.Load(f, steps.Builtin(), runner.Options{Overrides: sets, OutDir: "runs", CountOnly: true})
		if err != nil {
			code = reportSpecError(err, stderr)
			continue
		}
		n := 0
		for _, s := range plan.Studies {
			n += s.PointCount
		}
		fmt.Fprintf(stdout, "%s: ok (%d studies, %d points)\n", f, len(plan.Studies), n)
	}
	return code
}
