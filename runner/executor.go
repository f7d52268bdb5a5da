package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// Executor runs a study's points somewhere other than this process: on a
// cluster, one job per study and a task per point, each task running
// `runexp run-point RUN_DIR STUDY/POINT` (RunOnePoint) into the shared run
// folder. Without one (ExecOptions.Executor nil) the points run here, as
// they always have. The runner knows no scheduler: it hands an executor the
// points that need to run and records the results it returns.
type Executor interface {
	// Name is the executor's name in the manifest ("slurm").
	Name() string
	// RunPoints runs sr.Points and returns their results in that order,
	// when every one has ended. A point that could not run, or ended
	// without a result, gets a failed result saying why. Cancelling ctx
	// stops the points gracefully; RunPoints still returns what finished.
	RunPoints(ctx context.Context, sr *StudyRun) []*PointResult
}

// JobStopper is implemented by executors whose jobs outlive a killed
// submitter: before a resume plans anything it stops the jobs an earlier
// runexp submitted, so no earlier task writes into the folder any more.
type JobStopper interface {
	StopJobs(ctx context.Context, jobs []ExecutorJob, out io.Writer) error
}

// StudyRun is what an executor is given for one study.
type StudyRun struct {
	Plan   *Plan
	Study  *StudyPlan
	Points []*PointPlan
	Out    io.Writer
	// Submitted records a job in the manifest at once, so that a resume
	// after the submitter was killed finds and stops it.
	Submitted func(ExecutorJob)
}

// ExecutorJob is one job an executor submitted: for Slurm, a study's array.
type ExecutorJob struct {
	Study     string    `json:"study"`
	ID        string    `json:"id"`
	Submitted time.Time `json:"submitted"`
	// Points maps each point id to the job's name for its task
	// (Slurm: JOBID_TASK).
	Points map[string]string `json:"points"`
	// Log is the task log's path pattern, relative to the run folder.
	Log string `json:"log,omitempty"`
}

// ExecutorRecord is the manifest's section for an executor: every job it
// submitted for the run, resumes included.
type ExecutorRecord struct {
	Name string        `json:"name"`
	Jobs []ExecutorJob `json:"jobs"`
}

// SubmitDir is the folder of a study's submissions to executor (job
// scripts, task logs, markers): <study dir>/.<executor>, absolute, since
// the tasks do not start in this process's folder.
func (p *Plan) SubmitDir(s *StudyPlan, executor spec.ExecutorKind) (string, error) {
	dir := filepath.Join(s.Dir, "."+string(executor))
	if s.Dir == "" {
		dir = filepath.Join(p.RunDir, s.Name, "."+string(executor))
	}
	return filepath.Abs(dir)
}

// planSubmissions records, for a cluster executor, the command each
// study's job is submitted with (followed by the job script it writes
// then), which the executor builds the same way (for all points; a resume
// submits those left): runexp plan shows what runexp run submits.
func (p *Plan) planSubmissions() {
	if p.Executor != spec.ExecutorSlurm {
		return
	}
	for _, s := range p.Studies {
		dir, err := p.SubmitDir(s, p.Executor)
		if err != nil {
			continue // the run reports it when it submits
		}
		s.Submit = append([]string{"sbatch", "--parsable"}, p.Slurm.ArrayJobArgs(p.Experiment, s.Name, dir, s.count(), p.Parallel)...)
	}
}

// runElsewhere hands the points of s that still need running to opt's
// executor and returns their results; kept points and, when the run was
// interrupted or aborted, every point are left to the caller.
func runElsewhere(ctx context.Context, rf *runFolder, s *StudyPlan, kept map[*PointPlan]*PointResult, aborted bool, opt ExecOptions) map[*PointPlan]*PointResult {
	if opt.Executor == nil || aborted || ctx.Err() != nil {
		return nil
	}
	var todo []*PointPlan
	for _, pt := range s.Points {
		if kept[pt] == nil {
			todo = append(todo, pt)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	name := opt.Executor.Name()
	sr := &StudyRun{Plan: rf.plan, Study: s, Points: todo, Out: opt.Out,
		Submitted: func(job ExecutorJob) { rf.submitted(name, job) }}
	results := opt.Executor.RunPoints(ctx, sr)
	out := make(map[*PointPlan]*PointResult, len(todo))
	for i, pt := range todo {
		if i < len(results) && results[i] != nil {
			out[pt] = results[i]
		} else {
			out[pt] = notRun(s, pt, StatusFailed, fmt.Sprintf("the %s executor returned no result", name))
		}
	}
	return out
}

// submitted records an executor's job in the manifest and writes it.
func (rf *runFolder) submitted(executor string, job ExecutorJob) {
	rf.m.mu.Lock()
	if rf.m.Executor == nil {
		rf.m.Executor = &ExecutorRecord{Name: executor}
	}
	rf.m.Executor.Jobs = append(rf.m.Executor.Jobs, job)
	rf.m.mu.Unlock()
	rf.m.write(rf.plan.RunDir)
}

// stopEarlierJobs asks opt's executor to stop the jobs old records and
// returns its name when it did.
func stopEarlierJobs(ctx context.Context, old *Manifest, opt ExecOptions) (cancelled string, err error) {
	js, ok := opt.Executor.(JobStopper)
	if !ok || old.Executor == nil || len(old.Executor.Jobs) == 0 {
		return "", nil
	}
	return old.Executor.Name, js.StopJobs(ctx, old.Executor.Jobs, opt.Out)
}

// ErrNoSuchPoint is returned by RunOnePoint for a point the plan lacks.
var ErrNoSuchPoint = errors.New("no such point")

// RunOnePoint runs one point of p (named study/id) into its folder of the
// existing run folder p.RunDir and writes its result.json atomically. It
// is what an executor's task runs: it takes no lock (the submitter holds
// the run folder's) and writes neither the journal nor the manifest.
func RunOnePoint(ctx context.Context, p *Plan, study, id string, opt ExecOptions) (*PointResult, error) {
	if _, err := os.Stat(filepath.Join(p.RunDir, "manifest.json")); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotRunFolder, p.RunDir, err)
	}
	for _, s := range p.Studies {
		if s.Name != study {
			continue
		}
		for i, pt := range s.Points {
			if pt.ID != id {
				continue
			}
			if opt.Out == nil {
				opt.Out = io.Discard
			}
			if opt.CleanupTimeout == 0 {
				opt.CleanupTimeout = 5 * time.Minute
			}
			opt.specDir = p.SpecDir
			opt.redact = p.secrets
			if opt.redact != nil {
				opt.Out = &redactingWriter{w: opt.Out, r: opt.redact}
			}
			if opt.GPUs == nil {
				opt.GPUs = open.Opener{}
			}
			opt.gpus = steps.NewGPUCache(opt.GPUs)
			defer opt.gpus.Close()
			return runPoint(ctx, s, pt, i, len(s.Points), opt), nil
		}
	}
	return nil, fmt.Errorf("%w: %s/%s in %s", ErrNoSuchPoint, study, id, p.RunDir)
}

// ReadPointResult reads a point's result.json as the runner wrote it.
func ReadPointResult(path string) (*PointResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodePointResult(data)
}

// WritePointResult writes pr as dir/result.json, atomically.
func WritePointResult(dir string, pr *PointResult) error {
	return writeJSON(filepath.Join(dir, "result.json"), pr)
}

// UnrunPoint is the result of a point that did not run (or ran and left no
// result): every step skipped for reason, the point's status status.
func UnrunPoint(s *StudyPlan, pt *PointPlan, status Status, reason string) *PointResult {
	return notRun(s, pt, status, reason)
}
