package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/internal/slurm"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// executorFlag is --executor: one of spec.ExecutorKind's values.
type executorFlag spec.ExecutorKind

func (e *executorFlag) String() string { return string(*e) }
func (e *executorFlag) Set(v string) error {
	if !spec.InEnum(spec.ExecutorKind(""), v) {
		return errors.New(spec.NotInEnum(v, spec.ExecutorKind("").Values()))
	}
	*e = executorFlag(v)
	return nil
}

// executorFor returns the executor plan runs its points with: nil (here)
// unless it asks for Slurm.
func executorFor(plan *runner.Plan) runner.Executor {
	if plan.Executor != spec.ExecutorSlurm {
		return nil
	}
	e := &slurm.Executor{}
	if plan.Slurm != nil {
		e.Options = *plan.Slurm
	}
	return e
}

// checkExecutor says what the submit host lacks for plan's executor.
func checkExecutor(plan *runner.Plan) error {
	if plan.Executor != spec.ExecutorSlurm {
		return nil
	}
	for _, tool := range []string{"sbatch", "scontrol", "scancel"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("--executor slurm: %s is not on PATH: run runexp on a Slurm submit host (scripts/slurm-dev-cluster.sh starts a one-node cluster)", tool)
		}
	}
	return nil
}

// planRunFolder plans the run in runDir again, from its own copy of the
// spec with the manifest's --set and --only values and slots, and the
// executor the run used (or executor, when set).
func planRunFolder(runDir string, executor spec.ExecutorKind, stderr io.Writer) (*runner.Plan, *runner.Manifest, int) {
	m, err := runner.ReadManifest(runDir)
	if err != nil {
		fmt.Fprintf(stderr, "runexp: %s is not a run folder: %v\n", runDir, err)
		return nil, nil, ExitUsage
	}
	data, err := os.ReadFile(filepath.Join(runDir, "spec.yaml"))
	if err != nil {
		fmt.Fprintln(stderr, "runexp:", err)
		return nil, nil, ExitUsage
	}
	var sets, only []spec.Override
	for _, list := range []struct {
		from []string
		to   *[]spec.Override
		flag string
	}{{m.Overrides, &sets, "--set"}, {m.Only, &only, "--only"}} {
		for _, s := range list.from {
			o, err := spec.ParseOverride(s)
			if err != nil {
				fmt.Fprintf(stderr, "runexp: the manifest's %s %q: %v\n", list.flag, s, err)
				return nil, nil, ExitUsage
			}
			*list.to = append(*list.to, o)
		}
	}
	if executor == "" && m.Executor != nil {
		executor = spec.ExecutorKind(m.Executor.Name)
	}
	// The copy is parsed as if it were the original file, so templates and
	// ${spec.dir} resolve where the run found them.
	x, err := spec.Parse(originalSpecPath(m, runDir), data)
	if err != nil {
		return nil, nil, reportSpecError(err, stderr)
	}
	plan, err := runner.Compile(x, steps.Builtin(), runner.Options{Overrides: sets, Only: only, RunDir: runDir,
		Parallel: m.Parallel, HostGPUs: hostGPUs, Executor: executor})
	if err != nil {
		return nil, nil, reportSpecError(err, stderr)
	}
	return plan, m, ExitOK
}

// cmdRunPoint is `runexp run-point RUN_DIR STUDY/POINT`, what an
// executor's task runs: exactly that point of the run, into its folder,
// its result.json written atomically; the submitting runexp keeps the
// run folder's lock, journal and manifest.
func cmdRunPoint(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run-point", flag.ContinueOnError)
	fs.SetOutput(stderr)
	job := fs.String("job", "", "the executor's name for this task (Slurm: JOBID_TASK), recorded in result.json")
	setHelp(fs, "runexp run-point RUN_DIR STUDY/POINT [--job ID]",
		"Runs one point of an existing run folder, planned from the run's own spec copy,\nand writes its result.json: what a cluster executor's task runs (--executor slurm).")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitcode.Of(parseFlagsError(err))
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "runexp run-point: want RUN_DIR STUDY/POINT, got %d argument(s)\n", len(pos))
		return ExitUsage
	}
	study, id, ok := strings.Cut(pos[1], "/")
	if !ok || study == "" || id == "" {
		fmt.Fprintf(stderr, "runexp run-point: %q: want STUDY/POINT (the study's name and the point's id)\n", pos[1])
		return ExitUsage
	}
	runDir, err := filepath.Abs(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "runexp run-point:", err)
		return ExitUsage
	}
	plan, _, code := planRunFolder(runDir, "", stderr)
	if plan == nil {
		return code
	}
	ctx, stop := interruptible(context.Background(), stderr, "stopping gracefully, tearing down servers (again to kill everything now)")
	defer stop()
	pr, err := runner.RunOnePoint(ctx, plan, study, id, runner.ExecOptions{Out: stdout, Version: Version, GPUs: open.Opener{}, Job: *job})
	if err != nil {
		fmt.Fprintln(stderr, "runexp run-point:", err)
		return ExitUsage
	}
	switch pr.Status {
	case runner.StatusOK:
		return ExitOK
	case runner.StatusInterrupted:
		return ExitInterrupted
	}
	return ExitFailed
}
