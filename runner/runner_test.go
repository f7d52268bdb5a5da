package runner_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

var (
	binDir     string
	fakeServer string
	runexpBin  string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "runexp-runner-test")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	binDir = dir
	fakeServer = filepath.Join(dir, "fakeserver")
	runexpBin = filepath.Join(dir, "runexp")
	for out, pkg := range map[string]string{fakeServer: "../internal/cmd/fakeserver", runexpBin: "../cmd/runexp"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, ":", err)
			return 1
		}
	}
	return m.Run()
}

func freePort(t *testing.T) int { return testutil.FreePort(t) }

// assertNoLeftovers fails if a process started from the test's private
// binary directory is still alive.
func assertNoLeftovers(t *testing.T) {
	t.Helper()
	testutil.AssertNoProcesses(t, testutil.CmdlineContains(binDir), 3*time.Second)
}

func writeSpec(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func compile(t *testing.T, path string, out string, sets ...spec.Override) *runner.Plan {
	t.Helper()
	x, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.Compile(x, steps.Builtin(), runner.Options{OutDir: out, Overrides: sets})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

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

func TestBehavioursLeaveNoProcess(t *testing.T) {
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
	rows := readCSV(t, filepath.Join(p.RunDir, "s", "points.csv"))
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

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

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

type syncBuffer = testutil.Buffer

func startRunexp(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(runexpBin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// waitForLine polls runexp's output until it contains line.
func waitForLine(t *testing.T, buf *syncBuffer, cmd *exec.Cmd, line string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(buf.String(), line) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("runexp never printed %q:\n%s", line, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("runexp did not exit")
	}
	return cmd.ProcessState.ExitCode()
}

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
	runs, _ := filepath.Glob(filepath.Join(out, "interrupt", "*"))
	if len(runs) != 1 {
		t.Fatalf("run dirs: %v", runs)
	}
	rows := readCSV(t, filepath.Join(runs[0], "s", "points.csv"))
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
