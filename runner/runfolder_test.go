package runner_test

import (
	"context"
	"errors"
	"fmt"
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

// These tests drive the real runexp binary that TestMain builds
// (helpers_test.go).

// Several runexp processes started together into one --out compile the
// same run folder name (the second is the same); the ones that lose the
// race to create it compile again with the next free name.
func TestRacingRunsIntoOneOutAllSucceedInDistinctFolders(t *testing.T) {
	bin := runexpBin
	path := writeSpec(t, `version: runexp/v1
name: race
studies:
  - name: s
    steps:
      - {type: exec, with: {command: ["true"]}}
`)
	out := t.TempDir()
	const n = 6
	cmds := make([]*exec.Cmd, n)
	outs := make([]*testutil.Buffer, n)
	for i := range cmds {
		outs[i] = &testutil.Buffer{}
		cmds[i] = exec.Command(bin, "run", path, "--out", out)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if code := exitCode(t, c); code != 0 {
			t.Errorf("runexp %d exited %d:\n%s", i, code, outs[i].String())
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "race", runDirGlob))
	if len(dirs) != n {
		t.Fatalf("%d run folders for %d runs: %v", len(dirs), n, dirs)
	}
	for _, d := range dirs {
		m, err := runner.ReadManifest(d)
		if err != nil || m.Status != "ok" || len(m.Points) != 1 {
			t.Errorf("%s: manifest %+v, %v", d, m, err)
		}
	}
}

// A plan whose folder another run created in the meantime is not executed
// into that folder: Execute says the folder is taken, and compiling again
// gives the next free name.
func TestExecuteReportsATakenRunFolderAndRecompilingPicksTheNext(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: taken
studies:
  - name: s
    steps:
      - {type: exec, with: {command: ["true"]}}
`)
	x, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out, now := t.TempDir(), time.Now()
	first, err := runner.Compile(x, steps.Builtin(), runner.Options{OutDir: out, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	second, err := runner.Compile(x, steps.Builtin(), runner.Options{OutDir: out, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.Execute(context.Background(), first, runner.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = runner.Execute(context.Background(), second, runner.ExecOptions{})
	if !errors.Is(err, runner.ErrRunDirTaken) || !errors.Is(err, os.ErrExist) {
		t.Fatalf("second run into %s: %v, want ErrRunDirTaken", second.RunDir, err)
	}
	again, err := runner.Compile(x, steps.Builtin(), runner.Options{OutDir: out, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if again.RunDir == first.RunDir {
		t.Fatalf("recompiled plan reuses %s", again.RunDir)
	}
	if _, err := runner.Execute(context.Background(), again, runner.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A SIGKILLed runexp cannot write its manifest's final status; the journal
// still holds every finished point, and ReadManifest reports the run as
// killed (its recorded pid is gone), not running.
func TestSIGKILLedRunReadsAsKilledWithEveryFinishedPointInTheJournal(t *testing.T) {
	bin := runexpBin
	marker := fmt.Sprintf("%d.125", 3000+os.Getpid()%4000)
	path := writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: killed
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2, 3, 4, 5]
    steps:
      - {id: work, type: exec, with: {command: [sh, -c, 'test ${n} -lt 4 || exec sleep %s']}}
    artifacts:
      - {path: points.csv, format: csv, columns: [n, status]}
`, marker))
	t.Cleanup(func() { killMatching(marker) })
	out := t.TempDir()
	buf := &testutil.Buffer{}
	cmd := exec.Command(bin, "run", path, "--out", out)
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, buf, cmd, "[s 4/5 n=4] work (exec) ...")
	cmd.Process.Kill()
	exitCode(t, cmd)
	dirs, _ := filepath.Glob(filepath.Join(out, "killed", runDirGlob))
	if len(dirs) != 1 {
		t.Fatalf("run folders: %v", dirs)
	}
	raw, _ := os.ReadFile(filepath.Join(dirs[0], "manifest.json"))
	if !strings.Contains(string(raw), `"status": "running"`) {
		t.Fatalf("SIGKILL left a manifest that is not running? (test premise)\n%s", raw)
	}
	m, err := runner.ReadManifest(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != runner.StatusKilled {
		t.Errorf("status %q, want %q", m.Status, runner.StatusKilled)
	}
	if len(m.Points) != 3 {
		t.Fatalf("points %+v, want the 3 that finished", m.Points)
	}
	for i, p := range m.Points {
		if p.Status != "ok" || p.ID != fmt.Sprintf("%03d", i) {
			t.Errorf("point %d: %+v", i, p)
		}
		if _, err := os.Stat(filepath.Join(dirs[0], p.Dir, "result.json")); err != nil {
			t.Errorf("point %d: %v", i, err)
		}
	}
}

// A run that is going reads as running, with the points finished so far.
func TestLiveRunReadsAsRunningWithItsFinishedPoints(t *testing.T) {
	bin := runexpBin
	marker := fmt.Sprintf("%d.375", 3000+os.Getpid()%4000)
	path := writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: live
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2]
    steps:
      - {id: work, type: exec, with: {command: [sh, -c, 'test ${n} -lt 2 || exec sleep %s']}}
`, marker))
	t.Cleanup(func() { killMatching(marker) })
	out := t.TempDir()
	buf := &testutil.Buffer{}
	cmd := exec.Command(bin, "run", path, "--out", out)
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, buf, cmd, "[s 2/2 n=2] work (exec) ...")
	dirs, _ := filepath.Glob(filepath.Join(out, "live", runDirGlob))
	if len(dirs) != 1 {
		t.Fatalf("run folders: %v", dirs)
	}
	m, err := runner.ReadManifest(dirs[0])
	cmd.Process.Signal(syscall.SIGINT)
	exitCode(t, cmd)
	if err != nil || m.Status != "running" || len(m.Points) != 1 {
		t.Fatalf("live run read as %+v, %v; want running with 1 point", m, err)
	}
}

// A second Ctrl-C exits at once, but first the manifest gets the status
// killed and the points finished so far, and the study in progress gets
// its artifacts from them.
func TestSecondCtrlCWritesKilledManifestAndTheStudysArtifacts(t *testing.T) {
	bin := runexpBin
	marker := fmt.Sprintf("%d.625", 3000+os.Getpid()%4000)
	// The third point's server ignores SIGTERM and has a long grace: the
	// first Ctrl-C's teardown waits for it, the second one cuts it short.
	path := writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: twice
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2, 3]
    steps:
      - id: server
        type: launch
        with:
          command: [sh, -c, 'test ${n} -lt 3 || trap "" TERM; exec sleep %s']
          stop_grace: 60s
      - {id: work, type: exec, with: {command: [sh, -c, 'test ${n} -lt 3 || exec sleep %s']}}
      - {id: stop, type: teardown, needs: [server], always: true}
    artifacts:
      - {path: points.csv, format: csv, columns: [n, status]}
`, marker, marker))
	t.Cleanup(func() { killMatching(marker) })
	out := t.TempDir()
	buf := &testutil.Buffer{}
	cmd := exec.Command(bin, "run", path, "--out", out)
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, buf, cmd, "[s 3/3 n=3] work (exec) ...")
	cmd.Process.Signal(syscall.SIGINT)
	waitForLine(t, buf, cmd, "[s 3/3 n=3] stop (teardown) ...")
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, buf.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "twice", runDirGlob))
	if len(dirs) != 1 {
		t.Fatalf("run folders: %v", dirs)
	}
	raw, _ := os.ReadFile(filepath.Join(dirs[0], "manifest.json"))
	if !strings.Contains(string(raw), `"status": "killed"`) {
		t.Errorf("manifest after the second Ctrl-C:\n%s\n%s", raw, buf.String())
	}
	m, err := runner.ReadManifest(dirs[0])
	if err != nil || m.Status != runner.StatusKilled || len(m.Points) != 2 {
		t.Errorf("manifest %+v, %v; want killed with the 2 finished points", m, err)
	}
	rows := testutil.ReadCSV(t, filepath.Join(dirs[0], "s", "points.csv"))
	if len(rows) != 3 || rows[1][1] != "ok" || rows[2][1] != "ok" {
		t.Errorf("points.csv after the second Ctrl-C: %v", rows)
	}
	testutil.AssertNoProcesses(t, testutil.CmdlineContains(marker), 5*time.Second)
}

// Artifacts are written when their study ends: the next study sees the
// previous one's complete CSV.
func TestArtifactsAreWrittenWhenTheStudyEnds(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: ends
studies:
  - name: a
    sweep:
      axes:
        n: [1, 2, 3]
    steps:
      - {type: exec, with: {command: ["true"]}}
    artifacts:
      - {path: points.csv, format: csv, columns: [n, status]}
  - name: b
    steps:
      - {type: exec, with: {command: [sh, -c, 'test $(wc -l < ${run.dir}/a/points.csv) -eq 4']}}
`)
	p, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{Out: &log})
	if err != nil {
		t.Fatal(err)
	}
	if code := res.ExitCode(); code != 0 {
		t.Fatalf("exit %d: study b did not find study a's complete points.csv\n%s", code, log.String())
	}
}

// killMatching SIGKILLs the processes whose command line holds marker: what
// a failed test's runexp left behind.
func killMatching(marker string) {
	for _, p := range testutil.Processes(testutil.CmdlineContains(marker)) {
		var pid int
		if _, err := fmt.Sscan(p, &pid); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
