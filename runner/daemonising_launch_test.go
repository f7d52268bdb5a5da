package runner_test

import (
	"fmt"
	"testing"
)

// TestDaemonisingLauncherRunsUnderTheGuard: the launch's leader exits 0
// before its daemon listens (a launch script that daemonises). runexp (its
// servers under the guard, a subreaper) waits for the daemon, watches it
// through later steps without calling the leader's exit a crash, and tears
// it down: the point is ok and nothing is left.
func TestDaemonisingLauncherRunsUnderTheGuard(t *testing.T) {
	port := freePort(t)
	path := writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: daemon
studies:
  - name: s
    steps:
      - id: server
        type: launch
        with:
          command: [sh, -c, '(sleep 0.5; exec %s --port %d) >/dev/null 2>&1 &']
          port: %d
          stop_grace: 2s
      - {id: ready, type: wait-ready, needs: [server], with: {interval: 50ms}, timeout: 20s}
      - {id: work, type: sleep, needs: [ready], with: {duration: 500ms}}
      - {id: stop, type: teardown, needs: [server]}
`, fakeServer, port, port))
	cmd, buf := startRunexp(t, path, "--out", t.TempDir())
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, buf.String())
	}
	assertNoLeftovers(t)
}
