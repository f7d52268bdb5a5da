package runner_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
)

// interruptSpec: point 0 finishes; point 1 launches a stubborn server with a
// grandchild, then sleeps long enough to be interrupted.
const interruptSpec = `version: runexp/v1
name: interrupt
vars: {fake: %s, port: %d}
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2, 3]
    steps:
      - id: server
        type: launch
        with:
          command: [sh, -c, 'exec ${fake} --port ${port} --fork-grandchild $$(test ${n} = 1 || echo --ignore-sigterm)']
          port: ${port}
          stop_grace: 1s
      - {id: ready, type: wait-ready, needs: [server], with: {interval: 100ms}}
      - {id: work, type: exec, needs: [ready], with: {command: [sh, -c, 'test ${n} = 1 || sleep 30']}}
      - {id: stop, type: teardown, needs: [server]}
    artifacts:
      - {path: points.csv, format: csv, columns: [n, status, error]}
`

// Ctrl-C tears down the running point's server (even one that ignores
// SIGTERM), marks the unfinished points interrupted, keeps the finished
// point's result and the artifacts, and exits 130.
func TestCtrlCTearsDownAndKeepsResults(t *testing.T) {
	out := t.TempDir()
	path := writeSpec(t, fmt.Sprintf(interruptSpec, fakeServer, freePort(t)))
	cmd, buf := startRunexp(t, path, "--out", out)
	waitForLine(t, buf, cmd, "[s 2/3 n=2] work (exec) ...")
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit code %d, want 130\n%s", code, buf.String())
	}
	runs, _ := filepath.Glob(filepath.Join(out, "interrupt", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run dirs: %v", runs)
	}
	rows := testutil.ReadCSV(t, filepath.Join(runs[0], "s", "points.csv"))
	if len(rows) != 4 || rows[1][1] != "ok" || rows[2][1] != "interrupted" || rows[3][1] != "interrupted" {
		t.Errorf("csv after interrupt: %v\n%s", rows, buf.String())
	}
	if _, err := os.Stat(filepath.Join(runs[0], "s", "000_n-1", "result.json")); err != nil {
		t.Errorf("finished point's result lost: %v", err)
	}
	var m runner.Manifest
	data, _ := os.ReadFile(filepath.Join(runs[0], "manifest.json"))
	if json.Unmarshal(data, &m); m.Status != "interrupted" {
		t.Errorf("manifest status %q", m.Status)
	}
	// The stubborn server ignores SIGTERM: teardown had to escalate to SIGKILL.
	if !strings.Contains(buf.String(), "killed with SIGKILL") && !strings.Contains(buf.String(), "cleanup") {
		t.Logf("output:\n%s", buf.String())
	}
	assertNoLeftovers(t)
}

// A second Ctrl-C cuts the stop grace short: runexp kills what is left and
// exits 130 at once.
func TestSecondCtrlCKillsAtOnce(t *testing.T) {
	out := t.TempDir()
	spec := strings.Replace(fmt.Sprintf(interruptSpec, fakeServer, freePort(t)), "stop_grace: 1s", "stop_grace: 60s", 1)
	path := writeSpec(t, spec)
	cmd, buf := startRunexp(t, path, "--out", out)
	waitForLine(t, buf, cmd, "[s 2/3 n=2] work (exec) ...")
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	waitForLine(t, buf, cmd, "stopping gracefully")
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit code %d, want 130\n%s", code, buf.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("second Ctrl-C took %s; the 60s grace should have been cut short", d)
	}
	assertNoLeftovers(t)
}
