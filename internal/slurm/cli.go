package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Runner runs one Slurm command and returns its standard output; a failed
// command's error carries its standard error.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Exec runs the command on this host.
func Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// CLI is Slurm's command line.
type CLI struct {
	Run Runner // nil: Exec
}

// State is a Slurm job state, as scontrol and sacct print it.
type State string

// The states runexp tells apart; others are kept as Slurm prints them.
const (
	Pending     State = "PENDING"
	Running     State = "RUNNING"
	Completing  State = "COMPLETING"
	Completed   State = "COMPLETED"
	Failed      State = "FAILED"
	Timeout     State = "TIMEOUT"
	OutOfMemory State = "OUT_OF_MEMORY"
	NodeFail    State = "NODE_FAIL"
	Preempted   State = "PREEMPTED"
	Cancelled   State = "CANCELLED"
	BootFail    State = "BOOT_FAIL"
	Deadline    State = "DEADLINE"
)

// Ended reports whether a task in this state will run no more.
func (s State) Ended() bool {
	switch s {
	case Completed, Failed, Timeout, OutOfMemory, NodeFail, Preempted, Cancelled, BootFail, Deadline:
		return true
	}
	return false
}

// Task is one array task's state.
type Task struct {
	Index    int
	JobID    string // the task's own job id (scontrol's JobId)
	State    State
	Reason   string
	ExitCode string // "3:0": exit status and signal
	Node     string
}

// ErrNoSuchJob is returned when Slurm no longer knows the job.
var ErrNoSuchJob = errors.New("slurm does not know the job")

// Submit runs sbatch --parsable with args and the job script at path
// and returns the job id.
func (c CLI) Submit(ctx context.Context, args []string, path string) (string, error) {
	out, err := c.run(ctx, "sbatch", append(append([]string{"--parsable"}, args...), path)...)
	if err != nil {
		return "", err
	}
	return parseSubmit(out)
}

// parseSubmit reads sbatch --parsable's "JOBID" or "JOBID;CLUSTER".
func parseSubmit(out []byte) (string, error) {
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:] // sbatch may print warnings first
	}
	id, _, _ := strings.Cut(line, ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch --parsable printed %q, not a job id", strings.TrimSpace(string(out)))
	}
	return id, nil
}

// Tasks returns the tasks of array job id that scontrol still knows, by
// index: pending ones (printed as one record with a range of indices)
// included. ErrNoSuchJob when scontrol knows none.
func (c CLI) Tasks(ctx context.Context, id string) (map[int]Task, error) {
	out, err := c.run(ctx, "scontrol", "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchJob, id)
		}
		return nil, err
	}
	return parseScontrol(out)
}

// parseScontrol reads `scontrol show job -o` output: one record a line,
// KEY=VALUE words.
func parseScontrol(out []byte) (map[int]Task, error) {
	tasks := map[int]Task{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := fields(line)
		t := Task{JobID: f["JobId"], State: State(f["JobState"]), Reason: f["Reason"], ExitCode: f["ExitCode"], Node: f["NodeList"]}
		if t.Node == "(null)" {
			t.Node = ""
		}
		idx, err := parseIndices(f["ArrayTaskId"])
		if err != nil {
			return nil, fmt.Errorf("scontrol: JobId=%s: %w", t.JobID, err)
		}
		for _, i := range idx {
			t.Index = i
			tasks[i] = t
		}
	}
	return tasks, nil
}

// fields splits a record into its KEY=VALUE words; a value never holds a
// space in the keys read here.
func fields(line string) map[string]string {
	f := map[string]string{}
	for w := range strings.FieldsSeq(line) {
		if k, v, ok := strings.Cut(w, "="); ok {
			if _, seen := f[k]; !seen {
				f[k] = v
			}
		}
	}
	return f
}

// parseIndices expands an array's task ids: "3", "2-5%2", "1,3,5-7".
func parseIndices(s string) ([]int, error) {
	s, _, _ = strings.Cut(s, "%")
	if s == "" {
		return nil, errors.New("no ArrayTaskId: not an array job")
	}
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("ArrayTaskId %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("ArrayTaskId %q", s)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// Accounting returns the tasks of array job id as sacct records them;
// ok is false when accounting is off (sacct fails), which is no error.
func (c CLI) Accounting(ctx context.Context, id string) (tasks map[int]Task, ok bool) {
	out, err := c.run(ctx, "sacct", "-n", "-P", "-X", "-j", id, "-o", "JobID,State,ExitCode,NodeList")
	if err != nil {
		return nil, false
	}
	return parseSacct(out), true
}

// parseSacct reads `sacct -n -P -X -o JobID,State,ExitCode,NodeList`:
// "12_3|CANCELLED by 0|0:15|node1"; pending ranges ("12_[4-7%2]") are
// left out, scontrol reports those.
func parseSacct(out []byte) map[int]Task {
	tasks := map[int]Task{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) < 3 {
			continue
		}
		_, idx, ok := strings.Cut(parts[0], "_")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil {
			continue
		}
		state, _, _ := strings.Cut(parts[1], " ")
		t := Task{Index: i, JobID: parts[0], State: State(state), ExitCode: parts[2]}
		if len(parts) > 3 {
			t.Node = parts[3]
		}
		tasks[i] = t
	}
	return tasks
}

// Signal sends sig to the running tasks of job id: to the batch shell only
// (runexp run-point, which tears its servers down itself) unless full.
func (c CLI) Signal(ctx context.Context, id, sig string, full bool) error {
	scope := "--batch"
	if full {
		scope = "--full"
	}
	_, err := c.run(ctx, "scancel", "--signal="+sig, scope, id)
	return err
}

// CancelPending cancels the tasks of job id that have not started.
func (c CLI) CancelPending(ctx context.Context, id string) error {
	_, err := c.run(ctx, "scancel", "--state=PENDING", id)
	return err
}

// Cancel cancels job id (every task: SIGTERM, then SIGKILL after the
// cluster's KillWait).
func (c CLI) Cancel(ctx context.Context, id string) error {
	_, err := c.run(ctx, "scancel", id)
	return err
}

func (c CLI) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if c.Run == nil {
		return Exec(ctx, name, args...)
	}
	return c.Run(ctx, name, args...)
}
