package report_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/runexp/runexp/internal/testutil"
)

// runexpBin is the runexp binary the end-to-end tests run, built once by TestMain.
var runexpBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "runexp-report-test")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	runexpBin = filepath.Join(dir, "runexp")
	cmd := exec.Command("go", "build", "-o", runexpBin, "../../cmd/runexp")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building runexp:", err)
		return 1
	}
	return m.Run()
}

// runDay007OnSimulator runs experiments/day007.yaml with engine=sim into
// out and returns the run folder (through runs/day007/latest).
func runDay007OnSimulator(t *testing.T, out string, sets ...string) string {
	t.Helper()
	args := []string{"../../experiments/day007.yaml", "--set", "engine=sim",
		"--set", fmt.Sprintf("port=%d", testutil.FreePort(t)), "--out", out}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(runexpBin, args...)
	cmd.Env = append(os.Environ(), "RUNEXP_SIM_GPU_DIR="+t.TempDir())
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runexp %v: %v\n%s", args, err, output)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(out, "day007", "latest"))
	if err != nil {
		t.Fatalf("runs/day007/latest: %v", err)
	}
	return dir
}
