package runner_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/runexp/runexp/internal/testutil"
)

// The README's first command succeeds while the port a fixed-port spec
// would use (vLLM's default, 8000) is held by another process: day007
// chooses a free port at each launch.
func TestShippedDay007RunsWhileItsUsualPortIsHeld(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:8000")
	if err != nil {
		// 8000 is already held by someone else: the condition under test.
		t.Logf("8000 already held: %v", err)
	} else {
		defer held.Close()
	}
	out := t.TempDir()
	cmd := exec.Command(runexpBin, "../experiments/day007.yaml", "--set", "engine=sim", "--out", out)
	cmd.Env = append(os.Environ(), "RUNEXP_SIM_GPU_DIR="+t.TempDir())
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runexp with 8000 held: %v\n%s", err, output)
	}
	rows := testutil.ReadCSV(t, mustGlobOne(t, filepath.Join(out, "day007", runDirGlob, "kv-scaling", "kv_cache_scaling.csv")))
	if len(rows) != 5 {
		t.Fatalf("want header + 4 rows, got %v", rows)
	}
}
