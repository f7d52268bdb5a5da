package testutil_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
)

// TestOwnedByCountsOnlyProcessesCarryingTheMark: of two processes running
// the same program, only the one that inherited this binary's mark is
// listed as ours.
func TestOwnedByCountsOnlyProcessesCarryingTheMark(t *testing.T) {
	entry := testutil.MarkOwnProcesses()
	defer os.Unsetenv(testutil.OwnerEnv)
	tag := "own-processes-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	start := func(env []string) *exec.Cmd {
		// read is a shell builtin: the shell (whose $0 is the tag) waits on
		// its stdin without forking, so exactly one process carries the tag.
		cmd := exec.Command("sh", "-c", "read -r line", tag)
		cmd.Env = env
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	var foreignEnv []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, testutil.OwnerEnv+"=") {
			foreignEnv = append(foreignEnv, e)
		}
	}
	foreign := start(append(foreignEnv, testutil.OwnerEnv+"=1"))
	ours := start(os.Environ())
	match := testutil.OwnedBy(entry, testutil.CmdlineContains(tag))
	got := testutil.OwnProcesses(match)
	if len(got) != 1 || !strings.HasPrefix(got[0], strconv.Itoa(ours.Process.Pid)+" ") {
		t.Fatalf("own processes %v, want only pid %d (not %d)", got, ours.Process.Pid, foreign.Process.Pid)
	}
	if all := testutil.Processes(testutil.CmdlineContains(tag)); len(all) != 2 {
		t.Errorf("all processes %v, want both", all)
	}
}
