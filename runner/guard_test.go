package runner_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/internal/testutil"
)

// sigkillSpec: the built-in simulator under a long sequential load; the
// port and the request count are set from the command line.
const sigkillSpec = `version: runexp/v1
name: sigkill
vars: {port: 0, requests: 1}
studies:
  - name: s
    steps:
      - id: server
        type: launch
        with:
          command: [runexp, sim, serve, microsoft/Phi-3-mini-4k-instruct, --port, "${port}"]
          port: ${port}
          stop_grace: 1s
      - {id: ready, type: wait-ready, needs: [server], with: {interval: 50ms}}
      - id: load
        type: load
        needs: [ready]
        with:
          model: microsoft/Phi-3-mini-4k-instruct
          api: completions
          max_tokens: 16
          modes:
            - kind: sequential
              requests: ${requests}
      - {id: stop, type: teardown, needs: [server]}
`

// portArg matches the command lines that carry --port port.
func portArg(port int) func([]byte) bool {
	return testutil.CmdlineContains("--port\x00" + strconv.Itoa(port) + "\x00")
}

// TestSIGKILLOfRunexpDuringLoadLeavesNoProcessOfTheRun: runexp killed
// outright in the middle of a load (no cleanup of its own can run) leaves
// neither the server nor its guard alive past the stop grace plus a margin,
// the run folder's ledger names nothing left over, and a new run on the same
// port succeeds.
func TestSIGKILLOfRunexpDuringLoadLeavesNoProcessOfTheRun(t *testing.T) {
	out := t.TempDir()
	port := freePort(t)
	path := writeSpec(t, sigkillSpec)
	cmd, buf := startRunexp(t, path, "--out", out, "--set", fmt.Sprintf("port=%d", port), "--set", "requests=1000000")
	waitForLine(t, buf, cmd, "load (load) ...")
	time.Sleep(300 * time.Millisecond) // in the middle of the load
	if len(testutil.Processes(portArg(port))) == 0 {
		t.Fatalf("no server on port %d before the kill:\n%s", port, buf.String())
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	const grace, margin = time.Second, 2 * time.Second
	testutil.AssertNoProcesses(t, portArg(port), grace+margin)
	runs, _ := filepath.Glob(filepath.Join(out, "sigkill", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run dirs: %v", runs)
	}
	entries, err := proc.ReadLedger(filepath.Join(runs[0], proc.LedgerName))
	if err != nil || len(entries) != 1 {
		t.Fatalf("ledger: %+v, %v; want the one launch", entries, err)
	}
	if e := entries[0]; e.GuardPID == 0 || e.Port != port || !strings.HasSuffix(e.Argv0, "runexp") {
		t.Errorf("ledger entry %+v, want a guarded runexp on port %d", e, port)
	}
	if left := entries[0].Leftovers(); len(left) > 0 {
		t.Errorf("the ledger names live leftovers %v", left)
	}
	if err := proc.CheckPortFree("127.0.0.1", port); err != nil {
		t.Errorf("port after the kill: %v", err)
	}

	again, buf := startRunexp(t, path, "--out", out, "--set", fmt.Sprintf("port=%d", port), "--set", "requests=2")
	if code := exitCode(t, again); code != 0 {
		t.Fatalf("re-run on port %d: exit %d\n%s", port, code, buf.String())
	}
	testutil.AssertNoProcesses(t, portArg(port), margin)
}

// daemonSpec: a launch script that daemonises: its leader exits 0 at once
// and a setsid grandchild serves the port.
const daemonSpec = `version: runexp/v1
name: daemon
vars: {fake: %s, port: %d}
studies:
  - name: s
    steps:
      - id: server
        type: launch
        with:
          command: ['(setsid ${fake} --port ${port} >/dev/null 2>&1 &); exit 0']
          shell: true
          port: ${port}
          stop_grace: 1s
      - {id: work, type: exec, needs: [server], with: {command: [sleep, "1"]}}
      - {id: stop, type: teardown, needs: [server]}
`

// TestTeardownStopsADoubleForkedDaemonOfTheLaunch: the daemon escaped the
// launch's process group and lost its parent before any snapshot, yet
// teardown stops it and the port is free when runexp exits.
func TestTeardownStopsADoubleForkedDaemonOfTheLaunch(t *testing.T) {
	port := freePort(t)
	path := writeSpec(t, fmt.Sprintf(daemonSpec, fakeServer, port))
	cmd, buf := startRunexp(t, path, "--out", t.TempDir())
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("exit %d\n%s", code, buf.String())
	}
	testutil.AssertNoProcesses(t, portArg(port), time.Second)
	if err := proc.CheckPortFree("127.0.0.1", port); err != nil {
		t.Errorf("port after the run: %v", err)
	}
}
