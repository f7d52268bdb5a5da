package slurm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
)

// The tests below run against a real Slurm (scripts/slurm-dev-cluster.sh,
// which .ci/run starts): they submit array jobs through sbatch and check
// the rows, the manifest and what Slurm says. Without sinfo, or with no
// idle node, they skip (fail, with RUNEXP_REQUIRE_SLURM=1).

var (
	runexpBin string // built once by TestMain when a cluster is up
	noCluster string // why the cluster tests skip
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runexp-slurm-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("RUNEXP_SIM_GPU_DIR", filepath.Join(dir, "sim-gpu"))
	noCluster = clusterProblem()
	if noCluster == "" {
		runexpBin = filepath.Join(dir, "runexp")
		if out, err := exec.Command("go", "build", "-o", runexpBin, "../../cmd/runexp").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building runexp: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// clusterProblem says why no Slurm cluster can take jobs here, or "".
func clusterProblem() string {
	if _, err := exec.LookPath("sinfo"); err != nil {
		return "sinfo is not on PATH: no Slurm here (scripts/slurm-dev-cluster.sh starts one)"
	}
	out, err := exec.Command("sinfo", "-h", "-o", "%T").Output()
	if err != nil {
		return fmt.Sprintf("sinfo: %v: the cluster is not up (scripts/slurm-dev-cluster.sh starts one)", err)
	}
	for _, s := range strings.Fields(string(out)) {
		if s == "idle" || s == "mixed" || s == "allocated" {
			return ""
		}
	}
	return fmt.Sprintf("no Slurm node takes jobs (sinfo: %q)", strings.TrimSpace(string(out)))
}

func needCluster(t *testing.T) {
	t.Helper()
	if noCluster != "" && os.Getenv("RUNEXP_REQUIRE_SLURM") == "1" {
		t.Fatal(noCluster) // CI started a cluster: its absence is a failure
	}
	if noCluster != "" {
		t.Skip(noCluster)
	}
	t.Parallel() // each test waits on Slurm most of the time
}

// submitter is a runexp started as a user would, its output collected.
type submitter struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startRunexp(t *testing.T, dir string, args ...string) *submitter {
	t.Helper()
	s := &submitter{cmd: exec.Command(runexpBin, args...), done: make(chan struct{})}
	s.cmd.Dir = dir
	// Every run has simulated GPUs of its own, so runs side by side do not
	// share one simulated device.
	s.cmd.Env = append(os.Environ(), "RUNEXP_SIM_GPU_DIR="+filepath.Join(dir, "sim-gpu"))
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	go func() {
		s.err = s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *submitter) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// waitFor waits until the output matches re, failing the test after limit.
func (s *submitter) waitFor(t *testing.T, re string, limit time.Duration) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(s.output()); m != nil {
			return m
		}
		select {
		case <-s.done:
			if m := rx.FindStringSubmatch(s.output()); m != nil {
				return m
			}
			t.Fatalf("runexp ended (%v) before printing %q:\n%s", s.err, re, s.output())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("no %q after %s:\n%s", re, limit, s.output())
	return nil
}

// arrayJob waits for runexp's first array job and returns its id; the job
// is cancelled when the test ends, so a failing test leaves nothing queued.
func arrayJob(t *testing.T, s *submitter) string {
	t.Helper()
	job := s.waitFor(t, `slurm array job (\d+)`, time.Minute)[1]
	t.Cleanup(func() { exec.Command("scancel", job).Run() })
	return job
}

// exit waits for runexp to end and returns its exit code.
func (s *submitter) exit(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("runexp still running after %s:\n%s", limit, s.output())
	}
	return s.cmd.ProcessState.ExitCode()
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runDirOf(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`→ (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no run folder in:\n%s", out)
	}
	return m[1]
}

func readManifest(t *testing.T, runDir string) *runner.Manifest {
	t.Helper()
	m, err := runner.ReadManifest(runDir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pointsByID(m *runner.Manifest) map[string]runner.ManifestPoint {
	out := map[string]runner.ManifestPoint{}
	for _, p := range m.Points {
		out[p.Study+"/"+p.ID] = p
	}
	return out
}

// squeueJob is what squeue still lists of job id.
func squeueJob(id string) string {
	out, _ := exec.Command("squeue", "-h", "-r", "-j", id, "-o", "%i %T").CombinedOutput()
	return strings.TrimSpace(string(out))
}

// timingColumn is a measured duration or rate: it differs between any two
// runs, local or not.
var timingColumn = regexp.MustCompile(`_ms$|_s$|^duration$|throughput|^request_rate$|^lag_`)

func TestDay007OnSlurmWritesTheLocalRunsRows(t *testing.T) {
	needCluster(t)
	dir := t.TempDir()
	spec, _ := filepath.Abs("../../experiments/day007.yaml")
	local := startRunexp(t, dir, spec, "--set", "engine=sim", "--out", filepath.Join(dir, "local"))
	if code := local.exit(t, 3*time.Minute); code != 0 {
		t.Fatalf("local run: exit %d\n%s", code, local.output())
	}
	onSlurm := startRunexp(t, dir, spec, "--set", "engine=sim", "--executor", "slurm", "--out", filepath.Join(dir, "slurm"))
	if code := onSlurm.exit(t, 3*time.Minute); code != 0 {
		t.Fatalf("slurm run: exit %d\n%s", code, onSlurm.output())
	}
	localDir, slurmDir := runDirOf(t, local.output()), runDirOf(t, onSlurm.output())

	csvs := func(root string) []string {
		var out []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".csv") {
				rel, _ := filepath.Rel(root, p)
				out = append(out, rel)
			}
			return nil
		})
		return out
	}
	names := csvs(localDir)
	if len(names) == 0 || !slices.Equal(names, csvs(slurmDir)) {
		t.Fatalf("CSV files differ: local %v, slurm %v", names, csvs(slurmDir))
	}
	compared := 0
	for _, name := range names {
		a, b := testutil.ReadCSV(t, filepath.Join(localDir, name)), testutil.ReadCSV(t, filepath.Join(slurmDir, name))
		if !slices.Equal(a[0], b[0]) || len(a) != len(b) {
			t.Fatalf("%s: header or row count differ:\n%v (%d rows)\n%v (%d rows)", name, a[0], len(a), b[0], len(b))
		}
		// Rows without their timing columns, sorted: concurrent requests
		// are listed as they complete, in any order, in any run.
		pa, pb := pointColumns(a), pointColumns(b)
		for r := range pa {
			compared += len(pa[r])
			if !slices.Equal(pa[r], pb[r]) {
				t.Errorf("%s: local row %v, slurm row %v", name, pa[r], pb[r])
			}
		}
	}
	t.Logf("%d CSV files, %d values equal", len(names), compared)

	m := readManifest(t, slurmDir)
	if m.Executor == nil || m.Executor.Name != "slurm" || len(m.Executor.Jobs) != 2 {
		t.Fatalf("manifest executor section: %+v", m.Executor)
	}
	for _, p := range m.Points {
		job := m.Executor.Jobs[0]
		if p.Study == "batching" {
			job = m.Executor.Jobs[1]
		}
		if p.Status != "ok" || p.Job == "" || job.Points[p.ID] != p.Job || job.Study != p.Study {
			t.Errorf("point %s/%s: status %s, job %q (array %s says %q)", p.Study, p.ID, p.Status, p.Job, job.ID, job.Points[p.ID])
		}
	}
}

// pointColumns are a CSV's rows without the header and the timing
// columns, sorted.
func pointColumns(rows [][]string) [][]string {
	var out [][]string
	for _, row := range rows[1:] {
		var keep []string
		for c, col := range rows[0] {
			if !timingColumn.MatchString(col) {
				keep = append(keep, col+"="+row[c])
			}
		}
		out = append(out, keep)
	}
	slices.SortFunc(out, func(x, y []string) int { return slices.Compare(x, y) })
	return out
}

// outcomesSpec has one point per way a task can end. cancel waits to be
// cancelled from outside; timeout outlives the one-minute limit (Slurm's
// smallest); vanish kills its own runexp, which then writes no result.
const outcomesSpec = `version: runexp/v1
name: outcomes
executor: slurm
slurm: {time: 1m, array_limit: 5, poll_max: 2s}
studies:
  - name: ends
    sweep:
      axes:
        how: [ok, fail, vanish, timeout, cancel]
    steps:
      - id: work
        type: exec
        timeout: 10m
        with:
          shell: true
          command: ["case ${how} in fail) exit 3;; vanish) kill -9 $$PPID; sleep 5;; timeout|cancel) sleep 600;; esac"]
`

func TestFailedTimedOutCancelledAndVanishedTasksBecomeRows(t *testing.T) {
	needCluster(t)
	dir := t.TempDir()
	spec := writeFile(t, filepath.Join(dir, "outcomes.yaml"), outcomesSpec)
	s := startRunexp(t, dir, spec, "--out", filepath.Join(dir, "runs"))
	job := arrayJob(t, s)
	// The cancel point is task 4: scancel from outside once it runs.
	s.waitFor(t, `slurm job `+job+`: 0 pending`, time.Minute)
	if out, err := exec.Command("scancel", job+"_4").CombinedOutput(); err != nil {
		t.Fatalf("scancel: %v %s", err, out)
	}
	if code := s.exit(t, 4*time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1 (points failed)\n%s", code, s.output())
	}
	runDir := runDirOf(t, s.output())
	pts := pointsByID(readManifest(t, runDir))
	for _, tc := range []struct{ id, status, phase, error string }{
		{"ends/000", "ok", "", ""},
		{"ends/001", "failed", "work", "exited with 3"},
		{"ends/002", "failed", "slurm", "slurm task " + job + "_2 FAILED"},
		{"ends/003", "failed", "slurm", "slurm task " + job + "_3 TIMEOUT"},
		{"ends/004", "failed", "slurm", "slurm task " + job + "_4 CANCELLED"},
	} {
		p := pts[tc.id]
		if p.Status != tc.status || p.Phase != tc.phase || !strings.Contains(p.Error, tc.error) {
			t.Errorf("%s: %s %s %q, want %s %s %q", tc.id, p.Status, p.Phase, p.Error, tc.status, tc.phase, tc.error)
		}
		if p.Job == "" {
			t.Errorf("%s: no job in the manifest", tc.id)
		}
	}
	if !strings.Contains(pts["ends/002"].Error, "without writing result.json") {
		t.Errorf("vanished task: %q", pts["ends/002"].Error)
	}
	// The failed row carries the task log's tail.
	var pr runner.PointResult
	data, _ := os.ReadFile(filepath.Join(runDir, "ends", pts["ends/003"].Dir[len("ends/"):], "result.json"))
	if err := json.Unmarshal(data, &pr); err != nil || !strings.Contains(pr.LogTail, "runexp: task "+job+"_3") {
		t.Errorf("timeout row's log tail %q (%v)", pr.LogTail, err)
	}
}

// slowSpec's second point runs until stopped while the file "slow" is in
// the test's folder.
const slowSpec = `version: runexp/v1
name: slow
slurm: {array_limit: 2, poll_max: 2s}
studies:
  - name: s
    sweep:
      axes:
        p: [quick, slow]
    steps:
      - id: work
        type: exec
        timeout: 10m
        with:
          shell: true
          command: ["if [ ${p} = slow ] && [ -e %s/slow ]; then sleep 600; fi"]
`

func TestCtrlCOfTheSubmitterStopsTheArrayAndKeepsWhatFinished(t *testing.T) {
	needCluster(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slow"), "")
	spec := writeFile(t, filepath.Join(dir, "slow.yaml"), fmt.Sprintf(slowSpec, dir))
	s := startRunexp(t, dir, spec, "--executor", "slurm", "--out", filepath.Join(dir, "runs"))
	job := arrayJob(t, s)
	s.waitFor(t, `slurm job `+job+`: 0 pending, 1 running, 1 done`, 2*time.Minute)
	s.cmd.Process.Signal(syscall.SIGINT)
	if code := s.exit(t, 2*time.Minute); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, s.output())
	}
	if left := squeueJob(job); left != "" {
		t.Errorf("squeue still lists:\n%s", left)
	}
	m := readManifest(t, runDirOf(t, s.output()))
	pts := pointsByID(m)
	if m.Status != "interrupted" || pts["s/000"].Status != "ok" || pts["s/001"].Status != "interrupted" {
		t.Errorf("manifest %s, points %+v", m.Status, pts)
	}
}

// The run's executor came from --executor: both ways of resuming find it
// in the manifest.
func TestResumeAfterTheSubmitterWasKilledResubmitsOnlyWhatIsMissing(t *testing.T) {
	needCluster(t)
	for _, how := range []string{"resume", "run --resume"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			resumeAfterKill(t, how)
		})
	}
}

func resumeAfterKill(t *testing.T, how string) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slow"), "")
	spec := writeFile(t, filepath.Join(dir, "slow.yaml"), fmt.Sprintf(slowSpec, dir))
	s := startRunexp(t, dir, spec, "--executor", "slurm", "--out", filepath.Join(dir, "runs"))
	job := arrayJob(t, s)
	s.waitFor(t, `slurm job `+job+`: 0 pending, 1 running, 1 done`, 2*time.Minute)
	s.cmd.Process.Kill()
	s.exit(t, time.Minute)
	runDir := runDirOf(t, s.output())
	if left := squeueJob(job); !strings.Contains(left, "RUNNING") {
		t.Fatalf("the killed submitter's task should still run; squeue: %q", left)
	}
	os.Remove(filepath.Join(dir, "slow"))
	// A launch the ledger records on another node: its pid and start time
	// match a process here, which the resume must leave alone.
	bystander := exec.Command("sleep", "300")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bystander.Process.Kill(); bystander.Wait() })
	st, _ := proc.ReadStat(bystander.Process.Pid)
	if err := proc.AppendLedger(filepath.Join(runDir, proc.LedgerName), proc.LedgerEntry{Host: "node7", Argv0: "sleep",
		PID: st.PID, PGID: st.PID, StartTicks: st.StartTicks, StopSignal: int(syscall.SIGTERM)}); err != nil {
		t.Fatal(err)
	}

	args := []string{"resume", runDir}
	if how == "run --resume" {
		args = []string{"run", "--resume", runDir, spec}
	}
	r := startRunexp(t, dir, args...)
	if code := r.exit(t, 3*time.Minute); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, r.output())
	}
	out := r.output()
	for _, want := range []string{
		"stopping slurm job " + job + " of the earlier run (0 pending, 1 running)",
		"1 point(s) kept, 1 to run",
		"--array=0-0%2",
		"1 process(es) recorded on host node7 were not checked from here; cancelling the earlier slurm jobs ended their tasks",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("resume output lacks %q:\n%s", want, out)
		}
	}
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the resume stopped pid %d, which only an entry of node7 matched: %v", bystander.Process.Pid, err)
	}
	m := readManifest(t, runDir)
	pts := pointsByID(m)
	if m.Status != "ok" || len(m.Executor.Jobs) != 2 {
		t.Fatalf("manifest %s, jobs %+v", m.Status, m.Executor.Jobs)
	}
	again := m.Executor.Jobs[1]
	if pts["s/000"].Job != job+"_0" || pts["s/001"].Job != again.ID+"_0" || pts["s/001"].Status != "ok" {
		t.Errorf("points %+v; first job %s, resubmitted %s", pts, job, again.ID)
	}
}

// stubbornSpec's server ignores SIGTERM and has a minute's stop grace: the
// first Ctrl-C would wait for it.
const stubbornSpec = `version: runexp/v1
name: stubborn
executor: slurm
slurm: {poll_max: 2s}
studies:
  - name: s
    steps:
      - id: server
        type: launch
        with: {command: [sh, -c, 'trap "" TERM; echo up; sleep 600'], stop_grace: 60s}
      - id: wait
        type: exec
        timeout: 10m
        with: {command: [sleep, "600"]}
`

func TestSecondCtrlCKillsTheArrayAtOnce(t *testing.T) {
	needCluster(t)
	dir := t.TempDir()
	spec := writeFile(t, filepath.Join(dir, "stubborn.yaml"), stubbornSpec)
	s := startRunexp(t, dir, spec, "--out", filepath.Join(dir, "runs"))
	job := arrayJob(t, s)
	s.waitFor(t, `slurm job `+job+`: 0 pending, 1 running`, time.Minute)
	runDir := runDirOf(t, s.output())
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if log, _ := os.ReadFile(filepath.Join(runDir, "s", ".slurm", job+"_0.log")); strings.Contains(string(log), "wait (exec)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the task never reached its wait step")
		}
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	s.waitFor(t, `SIGTERM to running ones`, 30*time.Second)
	time.Sleep(2 * time.Second) // the task is now waiting out its server's grace
	if left := squeueJob(job); !strings.Contains(left, "RUNNING") {
		t.Fatalf("after the first Ctrl-C the task should be tearing down; squeue: %q", left)
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	if code := s.exit(t, 10*time.Second); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, s.output())
	}
	// Well within the server's 60 s grace: Slurm killed the task.
	for deadline := time.Now().Add(20 * time.Second); squeueJob(job) != ""; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("squeue still lists %q 20 s after the second Ctrl-C", squeueJob(job))
		}
	}
	if m := readManifest(t, runDir); m.Status != runner.StatusKilled {
		t.Errorf("manifest status %s, want killed", m.Status)
	}
}
