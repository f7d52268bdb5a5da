package runner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/runner"
)

// TestServerThatCrashesAfterReadyFailsThePoint: the server exits with
// status 4 while a later step runs; the point is failed at that step with
// the exit status, not reported ok.
func TestServerThatCrashesAfterReadyFailsThePoint(t *testing.T) {
	port := freePort(t)
	path := writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: crash
studies:
  - name: s
    steps:
      - {id: server, type: launch, with: {command: [%s, --port, "%d", --exit-after, 400ms], port: %d, stop_grace: 1s}}
      - {id: ready, type: wait-ready, needs: [server], with: {interval: 50ms}}
      - {id: work, type: sleep, needs: [ready], with: {duration: 5s}}
      - {id: stop, type: teardown, needs: [server]}
`, fakeServer, port, port))
	start := time.Now()
	res, err := runner.Execute(context.Background(), compile(t, path, t.TempDir()), runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr := res.Points[0]
	if pr.Status != "failed" || pr.Phase != "work" || !strings.Contains(pr.Error, "exit status 4") {
		t.Fatalf("got %s at %q: %q; want failed at work with exit status 4", pr.Status, pr.Phase, pr.Error)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the crash was noticed only after %s", d)
	}
	assertNoLeftovers(t)
}
