package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/runner"
)

// cmdResume is `runexp resume RUN_DIR [--failed]`: the run's own copy of
// the spec and its --set values, planned again into the same folder.
func cmdResume(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	failed := fs.Bool("failed", false, "also run again the points that failed")
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return exitcode.Of(parseFlagsError(err))
	}
	if len(dirs) != 1 {
		fmt.Fprintf(stderr, "runexp resume: want exactly one run folder, got %d\n", len(dirs))
		return ExitUsage
	}
	runDir, err := filepath.Abs(dirs[0])
	if err != nil {
		fmt.Fprintln(stderr, "runexp resume:", err)
		return ExitUsage
	}
	plan, _, code := planRunFolder(runDir, "", stderr)
	if plan == nil {
		return code
	}
	return resume(plan, runner.ResumeOptions{Failed: *failed}, stdout, stderr)
}

// originalSpecPath is the path the run's spec was read from: the manifest's
// spec file in its recorded folder, or the run's copy when neither is known.
func originalSpecPath(m *runner.Manifest, runDir string) string {
	switch {
	case m.SpecDir != "" && m.SpecFile != "":
		return filepath.Join(m.SpecDir, filepath.Base(m.SpecFile))
	case filepath.IsAbs(m.SpecFile):
		return m.SpecFile
	}
	return filepath.Join(runDir, "spec.yaml")
}

// resume executes a plan compiled into an existing run folder under the
// signal handler.
func resume(plan *runner.Plan, ro runner.ResumeOptions, stdout, stderr io.Writer) int {
	ctx, stop := interruptible(context.Background(), stderr, "stopping gracefully, tearing down servers (again to kill everything now)")
	defer stop()
	start := time.Now()
	res, err := runner.Resume(ctx, plan, runner.ExecOptions{Out: stdout, Version: Version, GPUs: open.Opener{}, Executor: executorFor(plan)}, ro)
	if err != nil {
		fmt.Fprintln(stderr, "runexp:", err)
		if errors.Is(err, runner.ErrNotRunFolder) {
			return ExitUsage
		}
		return ExitFailed
	}
	fmt.Fprintf(stdout, "done in %s\n", time.Since(start).Round(time.Millisecond))
	return res.ExitCode()
}

// hostGPUs lists the indices of the host's GPUs through the named GPU
// backend (auto: nvml, then nvidia-smi), for slots that list none.
func hostGPUs(backend string) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := open.Opener{}.Open(ctx, gpu.Request{Backend: backend})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	devs, err := b.Devices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(devs))
	for i, d := range devs {
		out[i] = d.Index
	}
	return out, nil
}
