package runner_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFirstCtrlCDuringTeardownKeepsTheStopGrace: runexp gets SIGINT while
// its teardown step waits for a server that needs a second to shut down;
// the server still finishes its shutdown (its stop grace is 10s) instead
// of being SIGKILLed, and runexp exits 130.
func TestFirstCtrlCDuringTeardownKeepsTheStopGrace(t *testing.T) {
	out := t.TempDir()
	path := writeSpec(t, `version: runexp/v1
name: slowstop
studies:
  - name: s
    steps:
      - id: server
        type: launch
        with:
          command: [sh, -c, 'trap "sleep 1; echo shut down cleanly; exit 0" TERM; echo serving; while :; do sleep 0.05; done']
          stop_grace: 10s
      - {id: settle, type: sleep, with: {duration: 300ms}}
      - {id: stop, type: teardown}
`)
	cmd, buf := startRunexp(t, path, "--out", out)
	waitForLine(t, buf, cmd, "stop (teardown) ...")
	time.Sleep(150 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit code %d, want 130\n%s", code, buf.String())
	}
	logs, _ := filepath.Glob(filepath.Join(out, "slowstop", runDirGlob, "s", "*", "server.log"))
	if len(logs) != 1 {
		t.Fatalf("server logs: %v\n%s", logs, buf.String())
	}
	b, _ := os.ReadFile(logs[0])
	if !strings.Contains(string(b), "shut down cleanly") {
		t.Errorf("the first Ctrl-C cut the server's stop grace; its log:\n%s\nrunexp:\n%s", b, buf.String())
	}
	assertNoLeftovers(t)
}
