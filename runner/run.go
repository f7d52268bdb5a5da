package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// Status is how a point or a step went.
type Status string

// The statuses.
const (
	StatusOK          Status = "ok"
	StatusFailed      Status = "failed"
	StatusSkipped     Status = "skipped"
	StatusInterrupted Status = "interrupted"
)

// Values lists the statuses.
func (Status) Values() []string {
	return []string{string(StatusOK), string(StatusFailed), string(StatusSkipped), string(StatusInterrupted)}
}

var _ spec.Enum = Status("")

// ErrInterrupted is the cause of the run context's cancellation on Ctrl-C
// (exitcode.ErrInterrupted, which the command line's signal handler uses).
var ErrInterrupted = exitcode.ErrInterrupted

// ExecOptions configure Execute.
type ExecOptions struct {
	Out            io.Writer     // progress lines and the summary table
	CleanupTimeout time.Duration // bound on each point's cleanup stack (default 5m)
	Version        string        // runexp version for the manifest
	// GPUs opens the GPU backends the steps ask for; nil means every
	// backend runexp ships (internal/gpu/open).
	GPUs    gpu.Opener
	specDir string
	redact  *redactor // hides env values in what the run prints and records
	gpus    *steps.GPUCache

	parallel int // points at once: step output then names its point on every line

	// Executor runs each study's points elsewhere (a cluster); nil runs
	// them in this process.
	Executor Executor
	// Job names the executor's job running the point (RunOnePoint): it is
	// in the point's result.json from the start.
	Job string
}

// StepResult is how one step went at one point.
type StepResult struct {
	ID       string  `json:"id"`
	Type     string  `json:"type"`
	Status   Status  `json:"status"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"error,omitempty"`
	Reason   string  `json:"reason,omitempty"` // why skipped
	TimedOut bool    `json:"timed_out,omitempty"`
}

// PointResult is the outcome of one point, written to its folder as
// result.json when the point ends.
type PointResult struct {
	Study   string                    `json:"study"`
	ID      string                    `json:"id"`
	Slug    string                    `json:"slug"`
	Label   string                    `json:"label,omitempty"`
	Sweep   []NamedValue              `json:"sweep,omitempty"`
	Status  Status                    `json:"status"`
	Phase   string                    `json:"phase,omitempty"` // the step that failed
	Error   string                    `json:"error,omitempty"`
	LogTail string                    `json:"log_tail,omitempty"`
	Cleanup string                    `json:"cleanup_error,omitempty"`
	Start   time.Time                 `json:"start"`
	End     time.Time                 `json:"end"`
	Seconds float64                   `json:"seconds"`
	Steps   []StepResult              `json:"steps"`
	Values  steps.Values              `json:"values"`
	Tables  map[string][]steps.Values `json:"tables,omitempty"`

	// Identity is the plan's point identity (PointPlan.Identity).
	Identity string `json:"identity,omitempty"`
	// Job is the executor's job that ran the point (Slurm: JOBID_TASK).
	Job string `json:"job,omitempty"`

	dirtyGPU bool // a release check found the GPU dirty
}

// Result is the outcome of a run.
type Result struct {
	RunDir      string
	Points      []*PointResult
	Interrupted bool
	Aborted     bool
	Errors      []error // artifact and manifest problems
}

// ExitCode maps a result to runexp's exit codes: 0 every point ok, 1 some
// points failed (or an artifact could not be written), 130 interrupted.
func (r *Result) ExitCode() int {
	if r.Interrupted {
		return exitcode.Interrupted
	}
	for _, p := range r.Points {
		if p.Status != StatusOK {
			return exitcode.Failed
		}
	}
	if len(r.Errors) > 0 {
		return exitcode.Failed
	}
	return exitcode.OK
}

// Execute runs the plan. ctx is the run context: cancelling it (first
// Ctrl-C) stops new steps, runs each cleanup stack on its own bounded
// context, writes what finished, and returns with Interrupted set.
//
// The run folder is created exclusively: when it exists already Execute
// returns an error wrapping ErrRunDirTaken, having written nothing. Each
// finished point is appended to the journal (JournalName) and its
// result.json; each study's artifacts are written when the study ends; the
// manifest is written at the start and the end (MarkKilled ends it early).
func Execute(ctx context.Context, p *Plan, opt ExecOptions) (*Result, error) {
	return execute(ctx, p, opt, nil)
}

// execute runs p into a new run folder or, with resume, into its existing
// one, keeping the points reopenRunFolder keeps.
func execute(ctx context.Context, p *Plan, opt ExecOptions, resume *ResumeOptions) (*Result, error) {
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	if opt.CleanupTimeout == 0 {
		opt.CleanupTimeout = 5 * time.Minute
	}
	res := &Result{RunDir: p.RunDir}
	opt.specDir = p.SpecDir
	opt.redact = p.secrets
	if opt.redact != nil {
		opt.Out = &redactingWriter{w: opt.Out, r: opt.redact}
	}
	opt.parallel = p.Parallel
	if opt.GPUs == nil {
		opt.GPUs = open.Opener{}
	}
	opt.gpus = steps.NewGPUCache(opt.GPUs)
	defer opt.gpus.Close()
	var rf *runFolder
	var kept map[*PointPlan]*PointResult
	var err error
	if resume == nil {
		rf, err = createRunFolder(p, opt.Version)
	} else {
		rf, kept, err = reopenRunFolder(ctx, p, opt, *resume)
	}
	if err != nil {
		return nil, err
	}
	// A panic below still leaves a manifest that says how the run ended.
	defer rf.abandon("failed")
	fmt.Fprintf(opt.Out, "run %s → %s\n", p.Experiment, p.RunDir)
	aborted := false
	abortReason := "an earlier point failed and on_error is abort"
	var mu sync.Mutex // guards aborted, abortReason and res.Errors between parallel points
	for _, s := range p.Studies {
		rf.startStudy(s)
		points := make([]*PointResult, len(s.Points))
		elsewhere := runElsewhere(ctx, rf, s, kept, aborted, opt)
		forEachPoint(s, p.Parallel, func(i int, pt *PointPlan) {
			var pr *PointResult
			mu.Lock()
			switch {
			case elsewhere[pt] != nil:
				pr = elsewhere[pt]
			case kept[pt] != nil:
				pr = kept[pt]
				fmt.Fprintf(opt.Out, "[%s %d/%d %s] kept: %s in the earlier run\n", s.Name, i+1, len(s.Points), pt.Label, pr.Status)
			case ctx.Err() != nil:
				pr = notRun(s, pt, StatusInterrupted, "run interrupted before this point")
			case aborted:
				pr = notRun(s, pt, StatusSkipped, abortReason)
			}
			mu.Unlock()
			if pr == nil {
				pr = runPoint(ctx, s, pt, i, len(s.Points), opt)
			}
			mu.Lock()
			defer mu.Unlock()
			if pr.dirtyGPU {
				abortReason = fmt.Sprintf("GPU memory was not released after %s point %s; no further point runs on a dirty GPU", s.Name, pr.ID)
			}
			points[i] = pr
			if pr.Status == StatusFailed && (p.OnError == "abort" || pr.dirtyGPU) {
				aborted = true
			}
			// One journal line per point: constant cost, and a crash later
			// loses nothing (each point also has its result.json).
			if err := rf.record(pr); err != nil {
				res.Errors = append(res.Errors, err)
			}
		})
		res.Points = append(res.Points, points...)
		// Artifacts once per study, also when interrupted (the remaining
		// points are recorded as interrupted above).
		res.Errors = append(res.Errors, rf.endStudy()...)
	}
	res.Interrupted = ctx.Err() != nil
	res.Aborted = aborted
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	gpus := opt.gpus.Devices(dctx)
	cancel()
	rf.m.mu.Lock()
	rf.m.GPUs = gpus
	rf.m.mu.Unlock()
	if err := rf.finish(res); err != nil {
		res.Errors = append(res.Errors, err)
	}
	for _, err := range res.Errors {
		fmt.Fprintf(opt.Out, "error: %v\n", err)
	}
	writeSummary(opt.Out, res)
	return res, nil
}

func notRun(s *StudyPlan, pt *PointPlan, status Status, reason string) *PointResult {
	now := time.Now()
	pr := &PointResult{Study: s.Name, ID: pt.ID, Slug: pt.Slug, Label: pt.Label, Sweep: pt.Values, Identity: pt.Identity,
		Status: status, Error: reason, Start: now, End: now}
	for _, st := range pt.Steps {
		pr.Steps = append(pr.Steps, StepResult{ID: st.ID, Type: st.Type, Status: StatusSkipped, Reason: reason})
	}
	return pr
}

// prefixWriter indents step output under its progress line.
type prefixWriter struct {
	mu      *sync.Mutex
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !p.midLine {
			io.WriteString(p.w, p.prefix)
		}
		io.WriteString(p.w, line)
		p.midLine = !strings.HasSuffix(line, "\n")
	}
	return len(b), nil
}

var outMu sync.Mutex

func runPoint(ctx context.Context, s *StudyPlan, pt *PointPlan, i, n int, opt ExecOptions) *PointResult {
	pr := &PointResult{Study: s.Name, ID: pt.ID, Slug: pt.Slug, Label: pt.Label, Sweep: pt.Values, Identity: pt.Identity, Start: time.Now(), Job: opt.Job}
	head := fmt.Sprintf("[%s %d/%d", s.Name, i+1, n)
	if pt.Label != "" {
		head += " " + pt.Label
	}
	head += "]"
	log := &prefixWriter{mu: &outMu, w: opt.Out, prefix: "      "}
	if opt.parallel > 1 {
		log.prefix = head + "   " // lines of points running at once interleave
	}
	if err := os.MkdirAll(pt.Dir, 0o755); err != nil {
		pr.Status, pr.Error, pr.End = StatusFailed, err.Error(), time.Now()
		return pr
	}
	env := steps.NewEnv(filepath.Dir(s.Dir), s.Dir, pt.Dir, s.Name, pt.Point, log)
	env.SpecDir = opt.specDir
	env.GPUs = opt.gpus
	status := map[string]Status{}
	for _, st := range pt.Steps {
		sr := StepResult{ID: st.ID, Type: st.Type}
		if reason := skipReason(ctx, st, status); reason != "" {
			sr.Status, sr.Reason = StatusSkipped, reason
			status[st.ID] = StatusSkipped
			pr.Steps = append(pr.Steps, sr)
			fmt.Fprintf(opt.Out, "%s %s: skipped (%s)\n", head, st.ID, reason)
			continue
		}
		base := ctx
		if st.Always && ctx.Err() != nil {
			base = context.WithoutCancel(ctx) // always-steps still run after Ctrl-C
		}
		sctx, cancel := context.WithTimeoutCause(base, st.Timeout.D(), &StepTimeoutError{st.ID, st.Timeout.D()})
		start := time.Now()
		fmt.Fprintf(opt.Out, "%s %s (%s) ...\n", head, st.ID, st.Type)
		err := runWatched(sctx, st.With, env)
		timedOut := errors.Is(context.Cause(sctx), context.DeadlineExceeded) || isStepTimeout(context.Cause(sctx))
		cancel()
		sr.Seconds = time.Since(start).Seconds()
		if err != nil {
			sr.Status, sr.Error = StatusFailed, err.Error()
			pr.dirtyGPU = pr.dirtyGPU || errors.Is(err, steps.ErrDirtyGPU)
			if timedOut && sctx.Err() != nil {
				sr.TimedOut = true
				sr.Error = fmt.Sprintf("timed out after %s: %v", st.Timeout, err)
			}
			if ctx.Err() != nil && !timedOut {
				sr.Status = StatusInterrupted
			}
			if pr.Phase == "" {
				pr.Phase, pr.Error = st.ID, sr.Error
				pr.LogTail = env.LogTail(20)
			}
			fmt.Fprintf(opt.Out, "%s %s: %s after %.1fs: %s\n", head, st.ID, sr.Status, sr.Seconds, sr.Error)
		} else {
			sr.Status = StatusOK
			fmt.Fprintf(opt.Out, "%s %s: ok (%.1fs)\n", head, st.ID, sr.Seconds)
		}
		status[st.ID] = sr.Status
		pr.Steps = append(pr.Steps, sr)
	}
	// The cleanup stack always runs, on a context Ctrl-C does not cancel.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opt.CleanupTimeout)
	if errs := env.RunCleanups(cctx); len(errs) > 0 {
		merr := &multierror.Error{Errors: errs}
		merr.ErrorFormat = func(es []error) string {
			parts := make([]string, len(es))
			for i, e := range es {
				parts[i] = e.Error()
			}
			return strings.Join(parts, "; ")
		}
		pr.Cleanup = merr.Error()
		fmt.Fprintf(opt.Out, "%s cleanup: %s\n", head, pr.Cleanup)
	}
	cancel()
	pr.End = time.Now()
	pr.Seconds = pr.End.Sub(pr.Start).Seconds()
	pr.Values = env.Values()
	pr.Tables = env.Tables()
	switch {
	case ctx.Err() != nil:
		pr.Status = StatusInterrupted
		if pr.Error == "" {
			pr.Error = "interrupted"
		}
	case pr.Phase != "":
		pr.Status = StatusFailed
	case pr.Cleanup != "":
		pr.Status, pr.Phase, pr.Error = StatusFailed, "cleanup", pr.Cleanup
	default:
		pr.Status = StatusOK
	}
	opt.redact.hidePoint(pr) // before result.json, the journal and the artifacts see it
	if err := writeJSON(filepath.Join(pt.Dir, "result.json"), pr); err != nil {
		fmt.Fprintf(opt.Out, "%s writing result.json: %v\n", head, err)
	}
	fmt.Fprintf(opt.Out, "%s point %s in %.1fs\n", head, pr.Status, pr.Seconds)
	return pr
}

// runStep runs one step, turning a panic into an error so one bad point
// cannot take the run (and its servers) down.
func runStep(ctx context.Context, st steps.Step, env *steps.Env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step panicked: %v", r)
		}
	}()
	return st.Run(ctx, env)
}

// runWatched runs one step while watching the point's launched servers: a
// server that ends on its own before its teardown (during this step, or
// unnoticed since the last one) fails the step with its exit status and
// its log's failure line, whatever the step itself made of it.
func runWatched(ctx context.Context, st steps.Step, env *steps.Env) error {
	wctx, stop := env.WatchServers(ctx)
	err := runStep(wctx, st, env)
	exited := stop()
	if exited == nil || errors.Is(err, steps.ErrExited) {
		return err // wait-ready's own report is as precise and names the phase
	}
	return exited
}

func skipReason(ctx context.Context, st *StepPlan, status map[string]Status) string {
	if st.Always {
		return ""
	}
	if ctx.Err() != nil {
		return "interrupted"
	}
	for _, need := range st.Needs {
		if status[need] != StatusOK {
			return fmt.Sprintf("needs %s, which %s", need, pastTense(status[need]))
		}
	}
	return ""
}

func pastTense(status Status) string {
	switch status {
	case StatusFailed:
		return "failed"
	case StatusSkipped:
		return "was skipped"
	case StatusInterrupted:
		return "was interrupted"
	}
	return "did not run"
}

// StepTimeoutError is the cause of a step context that hit its timeout.
type StepTimeoutError struct {
	Step    string
	Timeout time.Duration
}

func (e *StepTimeoutError) Error() string {
	return fmt.Sprintf("step %s timed out after %s", e.Step, e.Timeout)
}

// Is makes errors.Is(cause, context.DeadlineExceeded) true for step timeouts.
func (e *StepTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

func isStepTimeout(err error) bool {
	var t *StepTimeoutError
	return errors.As(err, &t)
}
