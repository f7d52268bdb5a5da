package slurm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// scontrolLine is one `scontrol show job -o` record of task index of job 12.
func scontrolLine(index string, state string) string {
	return fmt.Sprintf("JobId=1%s ArrayJobId=12 ArrayTaskId=%s JobState=%s Reason=None ExitCode=0:0 NodeList=vm\n", index, index, state)
}

// queue answers scontrol with the next of its outputs (the last one again
// when they run out) and records every other command.
type queue struct {
	mu      sync.Mutex
	outputs []string
	calls   []string
}

func (q *queue) run(_ context.Context, name string, args ...string) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if name != "scontrol" {
		q.calls = append(q.calls, name+" "+strings.Join(args, " "))
		return nil, nil
	}
	out := q.outputs[0]
	if len(q.outputs) > 1 {
		q.outputs = q.outputs[1:]
	}
	return []byte(out), nil
}

func TestWaitPrintsCountsUntilEveryTaskEnded(t *testing.T) {
	a := studyArray(t, 2)
	q := &queue{outputs: []string{
		scontrolLine("0-1", "PENDING"),
		scontrolLine("0", "RUNNING") + scontrolLine("1", "PENDING"),
		scontrolLine("0", "COMPLETED") + scontrolLine("1", "RUNNING"),
		scontrolLine("0", "COMPLETED") + scontrolLine("1", "TIMEOUT"),
	}}
	e := &Executor{CLI: CLI{Run: q.run}, Poll: time.Millisecond}
	if e.wait(context.Background(), a) {
		t.Fatal("reported interrupted")
	}
	out := a.sr.Out.(*strings.Builder).String()
	for _, want := range []string{
		"slurm job 12: 2 pending, 0 running, 0 done\n",
		"slurm job 12: 1 pending, 1 running, 0 done\n",
		"[kv 000] slurm task 12_0: COMPLETED\n",
		"slurm job 12: 0 pending, 1 running, 1 done\n",
		"[kv 001] slurm task 12_1: TIMEOUT\n",
		"slurm job 12: 0 pending, 0 running, 2 done (1 not COMPLETED)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "slurm task 12_0") != 1 {
		t.Errorf("a task's end printed more than once:\n%s", out)
	}
	if len(q.calls) != 0 {
		t.Errorf("commands besides scontrol: %q", q.calls)
	}
}

func TestFirstCancellationCancelsPendingTasksAndSignalsRunningOnes(t *testing.T) {
	a := studyArray(t, 2)
	running := scontrolLine("0", "RUNNING") + scontrolLine("1", "PENDING")
	q := &queue{outputs: []string{running, running, scontrolLine("0", "FAILED") + scontrolLine("1", "CANCELLED")}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &Executor{CLI: CLI{Run: q.run}, Poll: time.Millisecond}
	if !e.wait(ctx, a) {
		t.Fatal("not reported interrupted")
	}
	want := []string{"scancel --state=PENDING 12", "scancel --signal=TERM --batch 12"}
	if !slices.Equal(q.calls, want) {
		t.Errorf("commands %q, want %q", q.calls, want)
	}
}

func TestGraceOverCancelsTheTasksOutright(t *testing.T) {
	a := studyArray(t, 1)
	q := &queue{outputs: []string{scontrolLine("0", "RUNNING"), scontrolLine("0", "RUNNING"), scontrolLine("0", "RUNNING"),
		scontrolLine("0", "RUNNING"), scontrolLine("0", "CANCELLED")}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &Executor{CLI: CLI{Run: q.run}, Poll: 5 * time.Millisecond, Grace: time.Millisecond}
	e.wait(ctx, a)
	if !slices.Contains(q.calls, "scancel 12") {
		t.Errorf("commands %q lack scancel 12", q.calls)
	}
}
