package slurm

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// recorded returns a Runner that answers each command with canned output,
// as recorded from slurm-wlm 22.05 (testdata) or as sbatch/sacct print it.
func recorded(t *testing.T, answers map[string]string, fails map[string]string) (Runner, *[]string) {
	t.Helper()
	var calls []string
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		line := strings.TrimSpace(name + " " + strings.Join(args, " "))
		calls = append(calls, line)
		if msg, ok := fails[name]; ok {
			return nil, errors.New(line + ": exit status 1: " + msg)
		}
		out, ok := answers[name]
		if !ok {
			t.Fatalf("unexpected command %s", line)
		}
		return []byte(out), nil
	}, &calls
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScontrolPendingRangeExpandsToOneTaskPerIndex(t *testing.T) {
	run, calls := recorded(t, map[string]string{"scontrol": testdata(t, "scontrol-array-pending.txt")}, nil)
	tasks, err := CLI{Run: run}.Tasks(context.Background(), "3")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]State{0: Running, 1: Failed, 2: Pending, 3: Pending, 4: Pending, 5: Pending}
	got := map[int]State{}
	for i, task := range tasks {
		got[i] = task.State
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if tasks[1].ExitCode != "3:0" || tasks[1].Reason != "NonZeroExitCode" || tasks[1].JobID != "5" {
		t.Errorf("failed task: %+v", tasks[1])
	}
	if (*calls)[0] != "scontrol show job -o 3" {
		t.Errorf("asked %q", (*calls)[0])
	}
}

func TestScontrolMixedArrayKeepsEachTasksState(t *testing.T) {
	tasks, err := parseScontrol([]byte(testdata(t, "scontrol-array-mixed.txt")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]State{0: Completed, 1: Failed, 2: Running, 3: Completed, 4: Pending, 5: Pending}
	for i, s := range want {
		if tasks[i].State != s {
			t.Errorf("task %d: %s, want %s", i, tasks[i].State, s)
		}
	}
	if tasks[2].Node != "vm" {
		t.Errorf("running task's node %q, want vm", tasks[2].Node)
	}
	c := countTasks(tasks, 6)
	if c.String() != "2 pending, 1 running, 3 done (1 not COMPLETED)" {
		t.Errorf("counts %q", c)
	}
}

func TestScontrolUnknownJobIsErrNoSuchJob(t *testing.T) {
	run, _ := recorded(t, nil, map[string]string{"scontrol": "slurm_load_jobs error: Invalid job id specified"})
	_, err := CLI{Run: run}.Tasks(context.Background(), "99999")
	if !errors.Is(err, ErrNoSuchJob) {
		t.Fatalf("err %v, want ErrNoSuchJob", err)
	}
}

func TestAccountingOffIsNoError(t *testing.T) {
	run, _ := recorded(t, nil, map[string]string{"sacct": "Slurm accounting storage is disabled"})
	tasks, ok := CLI{Run: run}.Accounting(context.Background(), "3")
	if ok || tasks != nil {
		t.Fatalf("accounting off: %v %v, want nothing and not ok", tasks, ok)
	}
}

func TestSacctRowsByTaskIndex(t *testing.T) {
	// sacct -n -P -X -o JobID,State,ExitCode,NodeList, as sacct(1) prints
	// it: a cancelled task says by whom; pending ranges are bracketed.
	out := "12_0|COMPLETED|0:0|node1\n12_1|CANCELLED by 0|0:15|node2\n12_2|TIMEOUT|0:0|node1\n12_[3-5%2]|PENDING|0:0|None assigned\n"
	tasks := parseSacct([]byte(out))
	if len(tasks) != 3 || tasks[1].State != Cancelled || tasks[2].State != Timeout || tasks[0].Node != "node1" {
		t.Fatalf("tasks %+v", tasks)
	}
}

func TestSbatchParsableJobID(t *testing.T) {
	for out, want := range map[string]string{
		"42\n":                     "42",
		"42;cluster-a\n":           "42",
		"sbatch: warning: x\n43\n": "43",
	} {
		got, err := parseSubmit([]byte(out))
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", out, got, err, want)
		}
	}
	if _, err := parseSubmit([]byte("sbatch: error: Batch job submission failed\n")); err == nil {
		t.Error("an error message read as a job id")
	}
}

func TestArrayTaskIDs(t *testing.T) {
	for in, want := range map[string][]int{
		"3":       {3},
		"2-5%2":   {2, 3, 4, 5},
		"1,3,5-7": {1, 3, 5, 6, 7},
		"0-0":     {0},
		"1,3-4%2": {1, 3, 4},
	} {
		got, err := parseIndices(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "5-3", "1-y"} {
		if _, err := parseIndices(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStatesThatEndATask(t *testing.T) {
	for _, s := range []State{Completed, Failed, Timeout, OutOfMemory, NodeFail, Preempted, Cancelled, BootFail, Deadline} {
		if !s.Ended() {
			t.Errorf("%s not ended", s)
		}
	}
	for _, s := range []State{Pending, Running, Completing, "REQUEUED", "SUSPENDED"} {
		if s.Ended() {
			t.Errorf("%s ended", s)
		}
	}
}

func TestCancelCommands(t *testing.T) {
	run, calls := recorded(t, map[string]string{"scancel": ""}, nil)
	c := CLI{Run: run}
	ctx := context.Background()
	c.CancelPending(ctx, "7")
	c.Signal(ctx, "7", "TERM", false)
	c.Signal(ctx, "7", "KILL", true)
	c.Cancel(ctx, "7")
	want := []string{"scancel --state=PENDING 7", "scancel --signal=TERM --batch 7", "scancel --signal=KILL --full 7", "scancel 7"}
	if !reflect.DeepEqual(*calls, want) {
		t.Errorf("calls %q, want %q", *calls, want)
	}
}
