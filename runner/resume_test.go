package runner_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
)

// resumeSpec: six points, each with its own simulator server; point n=3
// waits in its work step until the file release exists next to the spec,
// and a point whose n is listed in the file fail (if any) fails.
const resumeSpec = `version: runexp/v1
name: resume
vars: {port: 0}
studies:
  - name: s
    sweep:
      axes: {n: [%s]}
    steps:
      - id: server
        type: launch
        with:
          command: [runexp, sim, serve, microsoft/Phi-3-mini-4k-instruct, --port, "${port}"]
          port: ${port}
          stop_grace: 1s
      - {id: ready, type: wait-ready, needs: [server], with: {interval: 50ms}}
      - id: work
        type: exec
        needs: [ready]
        with:
          command:
            - sh
            - -c
            - |
              if [ ${n} -eq 3 ]; then while [ ! -e ${spec.dir}/release ]; do sleep 0.05; done; fi
              if grep -qx ${n} ${spec.dir}/fail 2>/dev/null; then exit 1; fi
              echo $(( ${n} * 10 ))
          record: tens
      - {id: stop, type: teardown, needs: [server], always: true}
    artifacts:
      - {path: results.csv, format: csv, columns: [point, n, tens, status, phase]}
`

const sixPoints = "1, 2, 3, 4, 5, 6"

// resumeFixture is a spec file in its own folder and an output folder.
type resumeFixture struct {
	t    *testing.T
	spec string
	out  string
	port int
}

func newResumeFixture(t *testing.T, axis string) *resumeFixture {
	// Its own simulated GPU: other tests' servers must not fill it.
	t.Setenv("RUNEXP_SIM_GPU_DIR", t.TempDir())
	f := &resumeFixture{t: t, spec: writeSpec(t, fmt.Sprintf(resumeSpec, axis)), out: t.TempDir(), port: freePort(t)}
	return f
}

func (f *resumeFixture) touch(name, content string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(f.spec), name), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *resumeFixture) start(args ...string) (*exec.Cmd, *syncBuffer) {
	f.t.Helper()
	return startRunexp(f.t, append(args, "--out", f.out, "--set", fmt.Sprintf("port=%d", f.port))...)
}

// runDir returns the one run folder of the fixture.
func (f *resumeFixture) runDir() string {
	f.t.Helper()
	runs, _ := filepath.Glob(filepath.Join(f.out, "resume", runDirGlob))
	if len(runs) != 1 {
		f.t.Fatalf("run folders: %v", runs)
	}
	return runs[0]
}

type fileState struct {
	data  []byte
	mtime time.Time
}

func statFile(t *testing.T, path string) fileState {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	return fileState{data, fi.ModTime()}
}

// journalIDs returns the point ids of the run's journal, in order.
func journalIDs(t *testing.T, runDir string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(runDir, runner.JournalName))), "\n") {
		var mp runner.ManifestPoint
		if err := json.Unmarshal([]byte(line), &mp); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		ids = append(ids, mp.ID)
	}
	return ids
}

// TestResumeAfterSIGKILLRunsEachPointOnceAndKeepsFinishedOnes: runexp
// killed outright in the middle of a sweep (its guard stops the server);
// `runexp resume` takes over the stale lock, keeps the points that finished
// (their result.json untouched), runs the others, and writes artifacts
// equal to an uninterrupted run's, every point exactly once.
func TestResumeAfterSIGKILLRunsEachPointOnceAndKeepsFinishedOnes(t *testing.T) {
	f := newResumeFixture(t, sixPoints)
	cmd, buf := f.start(f.spec)
	waitForLine(t, buf, cmd, "[s 3/6 n=3] work (exec) ...")
	runDir := f.runDir()
	var before []fileState
	for _, slug := range []string{"000_n-1", "001_n-2"} {
		before = append(before, statFile(t, filepath.Join(runDir, "s", slug, "result.json")))
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	testutil.AssertNoProcesses(t, portArg(f.port), 3*time.Second)
	if m, err := runner.ReadManifest(runDir); err != nil || m.Status != runner.StatusKilled {
		t.Fatalf("manifest after SIGKILL: %+v, %v; want killed", m, err)
	}
	f.touch("release", "")

	again, buf := startRunexp(t, "resume", runDir)
	if code := exitCode(t, again); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, buf.String())
	}
	out := buf.String()
	for _, want := range []string{"taking over the stale lock", "2 point(s) kept, 4 to run, 0 dropped", "[s 1/6 n=1] kept: ok", "[s 3/6 n=3] work (exec) ..."} {
		if !strings.Contains(out, want) {
			t.Errorf("resume output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[s 1/6 n=1] server") || strings.Contains(out, "[s 2/6 n=2] server") {
		t.Errorf("a finished point ran again:\n%s", out)
	}
	for i, slug := range []string{"000_n-1", "001_n-2"} {
		after := statFile(t, filepath.Join(runDir, "s", slug, "result.json"))
		if !bytes.Equal(after.data, before[i].data) || !after.mtime.Equal(before[i].mtime) {
			t.Errorf("%s/result.json was rewritten", slug)
		}
	}
	if got := strings.Join(journalIDs(t, runDir), " "); got != "000 001 002 003 004 005" {
		t.Errorf("journal points %s, want each point once in order", got)
	}
	m, err := runner.ReadManifest(runDir)
	if err != nil || m.Status != "ok" || len(m.Points) != 6 || len(m.Resumes) != 1 || m.Resumes[0].PreviousStatus != runner.StatusKilled {
		t.Errorf("manifest after resume: %+v, %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(runDir, runner.LockName)); !os.IsNotExist(err) {
		t.Errorf("lock file after the resume: %v", err)
	}

	// The same sweep, uninterrupted.
	whole := &resumeFixture{t: t, spec: f.spec, out: t.TempDir(), port: f.port}
	full, buf := whole.start(whole.spec)
	if code := exitCode(t, full); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, buf.String())
	}
	got, want := readFile(t, filepath.Join(runDir, "s", "results.csv")), readFile(t, filepath.Join(whole.runDir(), "s", "results.csv"))
	if got != want {
		t.Errorf("results.csv after resume:\n%s\nuninterrupted:\n%s", got, want)
	}
	if err := proc.CheckPortFree("127.0.0.1", f.port); err != nil {
		t.Errorf("port after the runs: %v", err)
	}
}

// TestResumeWhileAnotherRunexpWorksOnTheFolderIsRefused: a second runexp
// on a run folder that a live runexp holds exits 1 naming the holder, and
// leaves the run alone.
func TestResumeWhileAnotherRunexpWorksOnTheFolderIsRefused(t *testing.T) {
	f := newResumeFixture(t, "3")
	cmd, buf := f.start(f.spec)
	waitForLine(t, buf, cmd, "[s 1/1 n=3] work (exec) ...")
	second, buf2 := startRunexp(t, "resume", f.runDir())
	if code := exitCode(t, second); code != 1 {
		t.Errorf("second runexp: exit %d, want 1\n%s", code, buf2.String())
	}
	if want := fmt.Sprintf("locked by runexp pid %d", cmd.Process.Pid); !strings.Contains(buf2.String(), want) {
		t.Errorf("second runexp said %q, want it to name the holder (%s)", buf2.String(), want)
	}
	f.touch("release", "")
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("first runexp: exit %d\n%s", code, buf.String())
	}
}

// TestResumeFailedRerunsOnlyFailedPoints: a plain resume of a run with a
// failed point keeps it; --failed runs exactly that point again.
func TestResumeFailedRerunsOnlyFailedPoints(t *testing.T) {
	f := newResumeFixture(t, "1, 2, 4")
	f.touch("fail", "2\n")
	cmd, buf := f.start(f.spec)
	if code := exitCode(t, cmd); code != 1 {
		t.Fatalf("first run: exit %d, want 1\n%s", code, buf.String())
	}
	runDir := f.runDir()
	os.Remove(filepath.Join(filepath.Dir(f.spec), "fail"))

	plain, buf := startRunexp(t, "resume", runDir)
	if code := exitCode(t, plain); code != 1 || !strings.Contains(buf.String(), "3 point(s) kept, 0 to run") {
		t.Fatalf("resume without --failed: exit %d, want 1 with every point kept\n%s", code, buf.String())
	}
	ok1 := statFile(t, filepath.Join(runDir, "s", "000_n-1", "result.json"))
	failed, buf := startRunexp(t, "resume", "--failed", runDir)
	if code := exitCode(t, failed); code != 0 || !strings.Contains(buf.String(), "2 point(s) kept, 1 to run") {
		t.Fatalf("resume --failed: exit %d, want 0 with one point run\n%s", code, buf.String())
	}
	if !strings.Contains(buf.String(), "[s 2/3 n=2] work (exec) ...") || strings.Contains(buf.String(), "[s 1/3 n=1] work") {
		t.Errorf("resume --failed ran other points than n=2:\n%s", buf.String())
	}
	if after := statFile(t, filepath.Join(runDir, "s", "000_n-1", "result.json")); !after.mtime.Equal(ok1.mtime) {
		t.Error("an ok point's result.json was rewritten")
	}
	rows := testutil.ReadCSV(t, filepath.Join(runDir, "s", "results.csv"))
	if len(rows) != 4 || rows[2][2] != "20" || rows[2][3] != "ok" {
		t.Errorf("results.csv after --failed: %v", rows)
	}
	retired, _ := filepath.Glob(filepath.Join(runDir, "s", ".retired", "*", "001_n-2", "result.json"))
	if len(retired) != 1 {
		t.Errorf("the failed attempt's folder was not kept under .retired: %v", retired)
	}
}

// TestRunResumeWithAnInsertedAxisValueRunsOnlyTheNewPoint: `runexp run
// --resume` with an edited spec keeps the points whose identity is
// unchanged though their ids moved, runs the new one, and lists what it
// kept, re-ran and dropped.
func TestRunResumeWithAnInsertedAxisValueRunsOnlyTheNewPoint(t *testing.T) {
	f := newResumeFixture(t, "1, 4, 5")
	f.touch("release", "")
	cmd, buf := f.start(f.spec)
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, buf.String())
	}
	runDir := f.runDir()
	if err := os.WriteFile(f.spec, []byte(fmt.Sprintf(resumeSpec, "1, 2, 4")), 0o644); err != nil {
		t.Fatal(err)
	}
	again, buf := startRunexp(t, "run", "--resume", runDir, f.spec, "--set", fmt.Sprintf("port=%d", f.port))
	if code := exitCode(t, again); code != 0 {
		t.Fatalf("run --resume: exit %d\n%s", code, buf.String())
	}
	if !strings.Contains(buf.String(), "2 point(s) kept, 1 to run, 1 dropped") || strings.Contains(buf.String(), "n=4] work") {
		t.Errorf("run --resume did not run exactly the new point:\n%s", buf.String())
	}
	rows := testutil.ReadCSV(t, filepath.Join(runDir, "s", "results.csv"))
	want := [][]string{{"point", "n", "tens", "status", "phase"}, {"000", "1", "10", "ok", ""}, {"001", "2", "20", "ok", ""}, {"002", "4", "40", "ok", ""}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("results.csv %v, want %v", rows, want)
	}
	var moved runner.PointResult
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(runDir, "s", "002_n-4", "result.json"))), &moved); err != nil || moved.ID != "002" {
		t.Errorf("the kept n=4 point in its new folder: %+v, %v", moved, err)
	}
	m, err := runner.ReadManifest(runDir)
	if err != nil || len(m.Resumes) != 1 {
		t.Fatalf("manifest: %+v, %v", m, err)
	}
	r := m.Resumes[0]
	if fmt.Sprint(r.Kept, r.Rerun, r.Dropped) != "[s/000 s/002] [s/001] [s/002]" {
		t.Errorf("resume record kept %v, re-ran %v, dropped %v", r.Kept, r.Rerun, r.Dropped)
	}
	if r.PreviousSpec == "" || !strings.Contains(readFile(t, filepath.Join(runDir, r.PreviousSpec)), "axes: {n: [1, 4, 5]}") {
		t.Errorf("the spec the run had before the edit is not kept (previous_spec %q)", r.PreviousSpec)
	}
	if !strings.Contains(readFile(t, filepath.Join(runDir, "spec.yaml")), "axes: {n: [1, 2, 4]}") {
		t.Error("spec.yaml is not the edited spec the run now follows")
	}
}

// TestResumeStopsTheLeftoversTheLedgerNames: a process the earlier run's
// ledger records and that is still alive is stopped before anything runs,
// and named. A launch the ledger records on another host (a cluster node
// sharing the run folder) is named as not checked, and the local process
// its pid and start time happen to match is left alone.
func TestResumeStopsTheLeftoversTheLedgerNames(t *testing.T) {
	f := newResumeFixture(t, "1")
	f.touch("release", "")
	cmd, buf := f.start(f.spec)
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, buf.String())
	}
	runDir := f.runDir()
	start := func() (*exec.Cmd, proc.LedgerEntry, chan struct{}) {
		c := exec.Command("sleep", "60")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { c.Wait(); close(exited) }()
		t.Cleanup(func() { c.Process.Kill() })
		st, _ := proc.ReadStat(c.Process.Pid)
		return c, proc.LedgerEntry{Time: time.Now(), Argv0: "sleep", PID: c.Process.Pid, PGID: c.Process.Pid,
			StartTicks: st.StartTicks, StopSignal: int(syscall.SIGTERM), StopGrace: time.Second}, exited
	}
	left, e, exited := start()
	bystander, onNode, bystanderExited := start()
	host, _ := os.Hostname()
	onNode.Host = host + "-node7"
	for _, e := range []proc.LedgerEntry{e, onNode} {
		if err := proc.AppendLedger(filepath.Join(runDir, proc.LedgerName), e); err != nil {
			t.Fatal(err)
		}
	}
	again, buf := startRunexp(t, "resume", runDir)
	if code := exitCode(t, again); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, buf.String())
	}
	if want := fmt.Sprintf("stopping what the earlier run left of sleep (launched as pid %d)", left.Process.Pid); !strings.Contains(buf.String(), want) {
		t.Errorf("resume output lacks %q:\n%s", want, buf.String())
	}
	if want := fmt.Sprintf("1 process(es) recorded on host %s were not checked from here; stop them there if they still run", onNode.Host); !strings.Contains(buf.String(), want) {
		t.Errorf("resume output lacks %q:\n%s", want, buf.String())
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("the leftover is still alive after the resume")
	}
	select {
	case <-bystanderExited:
		t.Errorf("the resume stopped pid %d, which only an entry of another host matched", bystander.Process.Pid)
	default:
	}
}
