package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
)

// Exit statuses of the job script when a node cannot do the task; the
// submitter turns them into a row that says so.
const (
	exitNoRunFolder = 97 // the node does not see the submitter's marker
	exitNoBinary    = 98 // the node does not see the runexp binary
)

// Executor runs each study as one Slurm array job. The zero value (plus
// Options) works: Slurm's tools from PATH, this runexp binary in the tasks.
type Executor struct {
	CLI     CLI
	Options spec.Slurm
	// Bin is the runexp binary the tasks run (default: this process's
	// executable); it must be on a file system every node sees.
	Bin string
	// Poll is the first wait between two polls (default 1s); it doubles up
	// to Options.PollMax (default 30s).
	Poll time.Duration
	// Grace bounds how long interrupted tasks get to tear down before they
	// are cancelled outright (default 5m).
	Grace time.Duration
}

var (
	_ runner.Executor   = (*Executor)(nil)
	_ runner.JobStopper = (*Executor)(nil)
)

// Name is "slurm".
func (e *Executor) Name() string { return string(spec.ExecutorSlurm) }

// active are the array jobs this process is waiting for, for KillActive.
var active sync.Map // job id → struct{}

// KillActive sends SIGKILL to every task of the arrays this process
// submitted and is waiting for, and cancels them: the second Ctrl-C.
func KillActive() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c CLI
	active.Range(func(k, _ any) bool {
		id := k.(string)
		c.Signal(ctx, id, "KILL", true)
		c.Cancel(ctx, id)
		return true
	})
}

// array is one submitted study.
type array struct {
	id   string
	dir  string // <study>/.slurm: job script, logs, markers
	sr   *runner.StudyRun
	task map[int]Task
	// reported are the tasks whose end was printed.
	reported map[int]bool
}

func (a *array) taskName(i int) string { return a.id + "_" + strconv.Itoa(i) }
func (a *array) logPath(i int) string  { return filepath.Join(a.dir, a.taskName(i)+".log") }
func (a *array) startedPath(i int) string {
	return filepath.Join(a.dir, a.taskName(i)+".started")
}

// RunPoints submits sr's points as one array job, waits for every task to
// end, and returns a row for each point.
func (e *Executor) RunPoints(ctx context.Context, sr *runner.StudyRun) []*runner.PointResult {
	a, err := e.submit(ctx, sr)
	if err != nil {
		out := make([]*runner.PointResult, len(sr.Points))
		for i, pt := range sr.Points {
			out[i] = runner.UnrunPoint(sr.Study, pt, runner.StatusFailed, err.Error())
			out[i].Phase = "slurm"
		}
		fmt.Fprintf(sr.Out, "[%s] %v\n", sr.Study.Name, err)
		return out
	}
	active.Store(a.id, struct{}{})
	interrupted := e.wait(ctx, a)
	active.Delete(a.id)
	out := make([]*runner.PointResult, len(sr.Points))
	for i := range sr.Points {
		out[i] = e.row(a, i, interrupted)
	}
	return out
}

// submit writes the job script and the shared-folder marker and submits
// the array.
func (e *Executor) submit(ctx context.Context, sr *runner.StudyRun) (*array, error) {
	bin := e.Bin
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("slurm: the runexp binary for the tasks: %w", err)
		}
		bin = exe
	}
	if resolved, err := filepath.EvalSymlinks(bin); err == nil {
		bin = resolved
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("slurm: the runexp binary for the tasks: %w", err)
	}
	runDir, err := filepath.Abs(sr.Plan.RunDir)
	if err != nil {
		return nil, err
	}
	dir, err := sr.Plan.SubmitDir(sr.Study, spec.ExecutorSlurm)
	if err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	host, _ := os.Hostname()
	marker := filepath.Join(dir, "submitted-"+stamp)
	if err := os.WriteFile(marker, []byte(host+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	script := filepath.Join(dir, "job-"+stamp+".sh")
	ids := make([]string, len(sr.Points))
	for i, pt := range sr.Points {
		ids[i] = sr.Study.Name + "/" + pt.ID
	}
	if err := os.WriteFile(script, []byte(jobScript(bin, runDir, dir, marker, ids)), 0o755); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	args := e.sbatchArgs(sr, dir, len(sr.Points))
	id, err := e.CLI.Submit(ctx, args, script)
	if err != nil {
		return nil, fmt.Errorf("slurm: submitting %s: %w", sr.Study.Name, err)
	}
	a := &array{id: id, dir: dir, sr: sr, reported: map[int]bool{}}
	job := runner.ExecutorJob{Study: sr.Study.Name, ID: id, Submitted: time.Now().UTC(), Points: map[string]string{},
		Log: filepath.Join(sr.Study.Name, ".slurm", "%A_%a.log")}
	for i, pt := range sr.Points {
		job.Points[pt.ID] = a.taskName(i)
	}
	if sr.Submitted != nil {
		sr.Submitted(job)
	}
	fmt.Fprintf(sr.Out, "[%s] slurm array job %s: %d point(s) (sbatch %s)\n", sr.Study.Name, id, len(sr.Points), strings.Join(args, " "))
	return a, nil
}

// sbatchArgs are the options of a study's array job: what runexp plan
// shows for the study (spec.Slurm.ArrayJobArgs), for n points.
func (e *Executor) sbatchArgs(sr *runner.StudyRun, dir string, n int) []string {
	return e.Options.ArrayJobArgs(sr.Plan.Experiment, sr.Study.Name, dir, n, sr.Plan.Parallel)
}

// jobScript is the array's batch script: task i checks that its node sees
// the run folder (the submitter's marker) and the runexp binary, leaves a
// marker of its own, and becomes `runexp run-point RUN_DIR STUDY/ID`, so
// that scancel's SIGTERM reaches runexp, which tears its servers down.
func jobScript(bin, runDir, dir, marker string, ids []string) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# Written by runexp: one task per point; see the manifest's executor section.\n")
	fmt.Fprintf(&b, "bin=%s\nrun_dir=%s\nmarker=%s\n", quote(bin), quote(runDir), quote(marker))
	b.WriteString("points=(")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(quote(id))
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, `point=${points[$SLURM_ARRAY_TASK_ID]}
if [ ! -e "$marker" ]; then
  echo "runexp: $(hostname) does not see the run folder $run_dir (no $marker): put it on a file system every node shares" >&2
  exit %d
fi
touch %s/"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.started"
if [ ! -x "$bin" ]; then
  echo "runexp: $(hostname) does not see the runexp binary $bin: put it on a file system every node shares" >&2
  exit %d
fi
echo "runexp: task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname): $point"
exec "$bin" run-point "$run_dir" "$point" --job "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
`, exitNoRunFolder, quote(dir), exitNoBinary)
	return b.String()
}

// quote is s as one single-quoted shell word.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// wait polls the array until every task has ended, printing counts when
// they change. The first cancellation of ctx cancels the pending tasks
// and sends SIGTERM to the running ones, which tear down and write their
// results; after Grace they are cancelled outright. It reports whether
// ctx was cancelled.
func (e *Executor) wait(ctx context.Context, a *array) bool {
	first := e.Poll
	if first <= 0 {
		first = time.Second
	}
	most := e.Options.PollMax.D()
	if most <= 0 {
		most = 30 * time.Second
	}
	grace := e.Grace
	if grace <= 0 {
		grace = 5 * time.Minute
	}
	qctx := context.WithoutCancel(ctx) // polls go on after Ctrl-C
	delay := first
	interrupted := false
	var graceOver <-chan time.Time
	last := ""
	errs := 0
	for {
		tasks, err := e.poll(qctx, a)
		switch {
		case err != nil:
			errs++
			fmt.Fprintf(a.sr.Out, "[%s] slurm job %s: %v\n", a.sr.Study.Name, a.id, err)
			if errs >= 10 {
				// Nothing may run unobserved: cancel, and the rows say
				// which state was last known.
				fmt.Fprintf(a.sr.Out, "[%s] slurm job %s: giving up after %d failed polls: cancelling it\n", a.sr.Study.Name, a.id, errs)
				e.CLI.Cancel(qctx, a.id)
				return interrupted
			}
		default:
			errs = 0
			a.task = tasks
			c := countTasks(tasks, len(a.sr.Points))
			e.reportEnded(a, tasks)
			if line := c.String(); line != last {
				fmt.Fprintf(a.sr.Out, "[%s] slurm job %s: %s\n", a.sr.Study.Name, a.id, line)
				last = line
			}
			if c.done == len(a.sr.Points) {
				return interrupted
			}
		}
		var cancelled <-chan struct{}
		if !interrupted {
			cancelled = ctx.Done()
		}
		select {
		case <-cancelled:
			interrupted = true
			fmt.Fprintf(a.sr.Out, "[%s] slurm job %s: cancelling pending tasks, SIGTERM to running ones\n", a.sr.Study.Name, a.id)
			if err := e.CLI.CancelPending(qctx, a.id); err != nil {
				fmt.Fprintf(a.sr.Out, "[%s] %v\n", a.sr.Study.Name, err)
			}
			if err := e.CLI.Signal(qctx, a.id, "TERM", false); err != nil {
				fmt.Fprintf(a.sr.Out, "[%s] %v\n", a.sr.Study.Name, err)
			}
			graceOver = time.After(grace)
			delay = first
			continue
		case <-graceOver:
			fmt.Fprintf(a.sr.Out, "[%s] slurm job %s: tasks still running after %s: cancelling them\n", a.sr.Study.Name, a.id, grace)
			e.CLI.Cancel(qctx, a.id)
			graceOver = nil
		case <-time.After(delay):
		}
		delay = min(2*delay, most)
	}
}

// reportEnded prints a line for each task that ended since the last poll.
func (e *Executor) reportEnded(a *array, tasks map[int]Task) {
	for i, pt := range a.sr.Points {
		t := tasks[i]
		if !t.State.endedOrForgotten() || a.reported[i] {
			continue
		}
		a.reported[i] = true
		label := pt.ID
		if pt.Label != "" {
			label = pt.Label
		}
		fmt.Fprintf(a.sr.Out, "[%s %s] slurm task %s: %s\n", a.sr.Study.Name, label, a.taskName(i), t.State)
	}
}

// poll returns the state of every task of a: scontrol's, else sacct's for
// tasks scontrol has forgotten; a task neither knows has ended (its row
// says how from its result.json, or that there is none).
func (e *Executor) poll(ctx context.Context, a *array) (map[int]Task, error) {
	tasks, err := e.CLI.Tasks(ctx, a.id)
	if err != nil && !errors.Is(err, ErrNoSuchJob) {
		return nil, err
	}
	if tasks == nil {
		tasks = map[int]Task{}
	}
	var acct map[int]Task
	asked := false
	for i := range a.sr.Points {
		if _, ok := tasks[i]; ok {
			continue
		}
		if !asked {
			acct, _ = e.CLI.Accounting(ctx, a.id)
			asked = true
		}
		if t, ok := acct[i]; ok {
			tasks[i] = t
			continue
		}
		tasks[i] = Task{Index: i, State: stateForgotten}
	}
	return tasks, nil
}

// stateForgotten is the state of a task neither scontrol nor sacct knows:
// it ended long enough ago for Slurm to forget it.
const stateForgotten State = "ENDED"

func (s State) endedOrForgotten() bool { return s == stateForgotten || s.Ended() }

// counts are an array's tasks by phase.
type counts struct{ pending, running, done, failed int }

func countTasks(tasks map[int]Task, n int) counts {
	var c counts
	for i := range n {
		switch s := tasks[i].State; {
		case s.endedOrForgotten():
			c.done++
			if s != Completed && s != stateForgotten {
				c.failed++
			}
		case s == Pending:
			c.pending++
		default:
			c.running++
		}
	}
	return c
}

func (c counts) String() string {
	s := fmt.Sprintf("%d pending, %d running, %d done", c.pending, c.running, c.done)
	if c.failed > 0 {
		s += fmt.Sprintf(" (%d not COMPLETED)", c.failed)
	}
	return s
}

// row is point i's result: its result.json when the task wrote an ok one,
// a failed one Slurm did not cause, or any when the run was interrupted;
// else a failed row naming the Slurm state, with the task log's tail.
func (e *Executor) row(a *array, i int, interrupted bool) *runner.PointResult {
	s, pt := a.sr.Study, a.sr.Points[i]
	t := a.task[i]
	pr, err := runner.ReadPointResult(filepath.Join(pt.Dir, "result.json"))
	// Slurm ending a task (time limit, scancel, node failure) kills what
	// it runs, so the point's own failure is then only a consequence.
	endedBySlurm := t.State.Ended() && t.State != Completed && t.State != Failed
	switch {
	case err == nil && pr.Status == runner.StatusOK:
	case err == nil && pr.Status == runner.StatusFailed && !endedBySlurm:
	case err == nil && interrupted:
	case err != nil && interrupted && t.State != Completed:
		pr = runner.UnrunPoint(s, pt, runner.StatusInterrupted, "run interrupted: slurm task "+a.taskName(i)+" "+string(t.State))
	default:
		reason := e.reason(a, i, t)
		if err == nil {
			reason += "; the point had reached: " + pr.Error
			pr.Status = runner.StatusFailed
		} else {
			pr = runner.UnrunPoint(s, pt, runner.StatusFailed, reason)
		}
		pr.Phase, pr.Error = "slurm", reason
		pr.LogTail = proc.Tail(a.logPath(i), 20)
	}
	pr.Job = a.taskName(i)
	if err := runner.WritePointResult(pt.Dir, pr); err != nil {
		fmt.Fprintf(a.sr.Out, "[%s] %s: %v\n", s.Name, pt.ID, err)
	}
	return pr
}

// reason says why task i left no usable result.
func (e *Executor) reason(a *array, i int, t Task) string {
	name := a.taskName(i)
	on := ""
	if t.Node != "" {
		on = " on " + t.Node
	}
	code, _, _ := strings.Cut(t.ExitCode, ":")
	switch {
	case t.State == "":
		return fmt.Sprintf("slurm task %s: no state known", name)
	case t.State == stateForgotten:
		return fmt.Sprintf("slurm task %s ended (Slurm no longer knows how) without writing result.json", name)
	case code == strconv.Itoa(exitNoRunFolder):
		return fmt.Sprintf("slurm task %s%s does not see the run folder %s: it must be on a file system every node shares", name, on, a.sr.Plan.RunDir)
	case code == strconv.Itoa(exitNoBinary):
		return fmt.Sprintf("slurm task %s%s does not see the runexp binary: it must be on a file system every node shares", name, on)
	}
	if _, err := os.Stat(a.startedPath(i)); err != nil && (t.State == Completed || t.State == Failed) {
		return fmt.Sprintf("slurm task %s%s ran (%s) but this host does not see its marker %s: the run folder must be on a file system every node shares",
			name, on, t.State, a.startedPath(i))
	}
	msg := fmt.Sprintf("slurm task %s %s%s", name, t.State, on)
	if t.ExitCode != "" && t.ExitCode != "0:0" {
		msg += " (exit " + t.ExitCode + ")"
	}
	if t.State == Timeout && e.Options.Time > 0 {
		msg += fmt.Sprintf(", time limit %s", e.Options.Time)
	}
	if t.State == Completed || t.State == Failed {
		msg += " without writing result.json"
	}
	return msg
}

// StopJobs stops what is left of jobs an earlier runexp submitted for the
// run (a resume after the submitter was killed): pending tasks are
// cancelled, running ones get SIGTERM and are waited for.
func (e *Executor) StopJobs(ctx context.Context, jobs []runner.ExecutorJob, out io.Writer) error {
	grace := e.Grace
	if grace <= 0 {
		grace = 5 * time.Minute
	}
	for _, j := range jobs {
		tasks, err := e.CLI.Tasks(ctx, j.ID)
		if errors.Is(err, ErrNoSuchJob) {
			continue
		}
		if err != nil {
			return fmt.Errorf("slurm: the earlier run's job %s: %w", j.ID, err)
		}
		if c := countTasks(tasks, len(tasks)); c.pending+c.running == 0 {
			continue
		} else {
			fmt.Fprintf(out, "stopping slurm job %s of the earlier run (%d pending, %d running)\n", j.ID, c.pending, c.running)
		}
		e.CLI.CancelPending(ctx, j.ID)
		e.CLI.Signal(ctx, j.ID, "TERM", false)
		deadline := time.Now().Add(grace)
		for {
			tasks, err := e.CLI.Tasks(ctx, j.ID)
			if errors.Is(err, ErrNoSuchJob) || (err == nil && allEnded(tasks)) {
				break
			}
			if time.Now().After(deadline) {
				e.CLI.Cancel(ctx, j.ID)
				deadline = time.Now().Add(time.Minute)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func allEnded(tasks map[int]Task) bool {
	for _, t := range tasks {
		if !t.State.Ended() {
			return false
		}
	}
	return true
}
