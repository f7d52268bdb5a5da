package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
)

// behaviourSpec sweeps the fake server's misbehaviours, one per point.
const behaviourSpec = `version: runexp/v1
name: behaviours
vars:
  fake: %s
  port: %d
  pidfile: %s
studies:
  - name: s
    sweep:
      axes:
        mode: [ok, crash, never-ready, ignore-term, grandchild, setsid-grandchild, exit-mid-run, slow-start]
      zip: []
    steps:
      - id: server
        type: launch
        with:
          command: [sh, -c, 'case ${mode} in
            ok) exec ${fake} --port ${port} --max-model-len 77;;
            crash) exec ${fake} --port ${port} --crash-at-start;;
            never-ready) exec ${fake} --port ${port} --never-ready;;
            ignore-term) exec ${fake} --port ${port} --max-model-len 77 --ignore-sigterm;;
            grandchild) exec ${fake} --port ${port} --max-model-len 77 --ignore-sigterm --fork-grandchild --grandchild-pidfile ${pidfile}.${point.id};;
            setsid-grandchild) exec ${fake} --port ${port} --max-model-len 77 --fork-grandchild --grandchild-setsid --grandchild-pidfile ${pidfile}.${point.id};;
            exit-mid-run) exec ${fake} --port ${port} --max-model-len 77 --exit-after 300ms;;
            slow-start) exec ${fake} --port ${port} --max-model-len 77 --start-delay 700ms;;
            esac']
          port: ${port}
          stop_grace: 500ms
      - id: ready
        type: wait-ready
        timeout: 2s
        needs: [server]
        with:
          interval: 100ms
          json_checks: [{path: /v1/models, field: "data[0].max_model_len", equals: 77, record: mml}]
      - id: work
        type: sleep
        needs: [ready]
        with: {duration: 600ms}
      - id: alive
        type: exec
        needs: [work]
        with:
          command: [sh, -c, 'kill -0 $$(cat ${point.dir}/server.pid 2>/dev/null || echo 999999999) 2>/dev/null || curl -sf http://127.0.0.1:${port}/health >/dev/null || exit 7']
      - id: stop
        type: teardown
        needs: [server]
    artifacts:
      - {path: points.csv, format: csv, columns: [mode, mml, status, phase, error]}
      - {path: points.jsonl, format: jsonl}
`

// Whatever the server does (crash, never get ready, ignore SIGTERM, leave a
// grandchild in or out of its session, exit mid-run, start slowly), each
// point ends with the status and phase that say so, its result is on disk,
// and no process of the run is left.
func TestEveryServerMisbehaviourEndsWithItsStatusAndNoProcessLeft(t *testing.T) {
	out := t.TempDir()
	path := writeSpec(t, fmt.Sprintf(behaviourSpec, fakeServer, freePort(t), filepath.Join(out, "gc")))
	p := compile(t, path, out)
	var log bytes.Buffer
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{Out: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	want := map[string]struct{ status, phase string }{
		"ok":                {"ok", ""},
		"crash":             {"failed", "ready"},
		"never-ready":       {"failed", "ready"},
		"ignore-term":       {"ok", ""},
		"grandchild":        {"ok", ""},
		"setsid-grandchild": {"ok", ""},
		"exit-mid-run":      {"failed", "work"}, // the watch fails the step during which the server died
		"slow-start":        {"ok", ""},
	}
	for _, pr := range res.Points {
		mode := pr.Sweep[0].Value.(string)
		w := want[mode]
		if string(pr.Status) != w.status || pr.Phase != w.phase {
			t.Errorf("%s: status %s phase %q (%s), want %s %q", mode, pr.Status, pr.Phase, pr.Error, w.status, w.phase)
		}
		// Every point's result is on disk.
		data, err := os.ReadFile(filepath.Join(p.RunDir, "s", pr.Slug, "result.json"))
		if err != nil {
			t.Errorf("%s: %v", mode, err)
			continue
		}
		var onDisk runner.PointResult
		if err := json.Unmarshal(data, &onDisk); err != nil || onDisk.Status != pr.Status {
			t.Errorf("%s: result.json status %q err %v", mode, onDisk.Status, err)
		}
	}
	if got := res.ExitCode(); got != 1 {
		t.Errorf("exit code %d, want 1", got)
	}
	crash := res.Points[1]
	if !strings.Contains(crash.Error, "exit status 3") || !strings.Contains(crash.Error, "fake crash at startup") {
		t.Errorf("crash error should quote exit status and log: %q", crash.Error)
	}
	if !strings.Contains(crash.LogTail, "fake crash") {
		t.Errorf("crash log tail: %q", crash.LogTail)
	}
	if v, _ := res.Points[3].Values.Get("server_stop_graceful"); v != false {
		t.Errorf("ignore-term: stop should have needed SIGKILL, graceful=%v", v)
	}
	rows := testutil.ReadCSV(t, filepath.Join(p.RunDir, "s", "points.csv"))
	if len(rows) != 9 || strings.Join(rows[0], ",") != "mode,mml,status,phase,error" {
		t.Fatalf("csv: %v", rows)
	}
	if rows[1][1] != "77" || rows[2][2] != "failed" {
		t.Errorf("csv rows: %v", rows[1:3])
	}
	var m runner.Manifest
	data, _ := os.ReadFile(filepath.Join(p.RunDir, "manifest.json"))
	if err := json.Unmarshal(data, &m); err != nil || len(m.Points) != 8 || m.Status != "failed" {
		t.Errorf("manifest: %v %+v", err, m.Status)
	}
	assertNoLeftovers(t)
}

// A launch whose port is already taken fails the point at once, naming the
// process that holds the port, and what needs the server is skipped.
func TestPortInUseFailsThePoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	path := writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: busy
studies:
  - name: s
    steps:
      - {id: server, type: launch, with: {command: [%s, --port, "%d"], port: %d}}
      - {id: ready, type: wait-ready, needs: [server]}
`, fakeServer, port, port))
	out := t.TempDir()
	res, err := runner.Execute(context.Background(), compile(t, path, out), runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr := res.Points[0]
	want := fmt.Sprintf("port %d already in use by pid %d", port, os.Getpid())
	if pr.Status != "failed" || pr.Phase != "server" || !strings.Contains(pr.Error, want) {
		t.Fatalf("got %s %s %q, want error containing %q", pr.Status, pr.Phase, pr.Error, want)
	}
	if pr.Steps[1].Status != "skipped" {
		t.Errorf("ready should be skipped: %+v", pr.Steps[1])
	}
}
