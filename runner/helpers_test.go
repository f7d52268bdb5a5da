package runner_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// The binaries the end-to-end tests run, built once by TestMain into a
// private folder, so that assertNoLeftovers can find any process of theirs.
var (
	binDir     string
	fakeServer string
	runexpBin  string
	// ownProcesses marks every process this test binary starts (and
	// theirs), so leftover checks of shared binaries (Ollama) count only
	// ours on a machine shared with other work.
	ownProcesses string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "runexp-runner-test")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	binDir = dir
	ownProcesses = testutil.MarkOwnProcesses()
	// Simulated GPUs of this package's servers only: other packages' tests,
	// run at the same time by go test, keep their own.
	os.Setenv("RUNEXP_SIM_GPU_DIR", filepath.Join(dir, "simgpu"))
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

// writeSpec writes body as spec.yaml in a fresh temporary folder.
func writeSpec(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// compile loads and compiles path for a run into out, failing the test on
// any problem.
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

// golden compares got with the file at path, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) { testutil.Golden(t, path, got) }

// fixedNow and noEnv make plans independent of the clock and the
// environment, so that their text can be compared with goldens.
var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func noEnv(string) (string, bool) { return "", false }

// compileFile runs the same stages as `runexp validate`.
func compileFile(path string, sets ...spec.Override) (*runner.Plan, error) {
	return runner.Load(path, steps.Builtin(), runner.Options{Now: fixedNow, Env: noEnv, Overrides: sets})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readCSVMaps reads a CSV file as one map per row, keyed by the header.
func readCSVMaps(t *testing.T, path string) []map[string]any {
	t.Helper()
	rows := testutil.ReadCSV(t, path)
	var out []map[string]any
	for _, r := range rows[1:] {
		m := map[string]any{}
		for i, c := range rows[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type syncBuffer = testutil.Buffer

// startRunexp starts the runexp binary with args, its output in the buffer.
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
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), line) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("runexp never printed %q:\n%s", line, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitCode waits up to 60 seconds for cmd to exit and returns its code.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("runexp did not exit")
	}
	return cmd.ProcessState.ExitCode()
}

// runShippedOnSim runs experiments/<name>.yaml on the simulator (--set
// engine=sim, a free port, simulated GPUs of its own) with the runexp
// binary and returns its run folder. runexp's own path is what `runexp`
// in the spec's argv resolves to.
func runShippedOnSim(t *testing.T, name string, args ...string) string {
	t.Helper()
	out := t.TempDir()
	argv := append([]string{"../experiments/" + name + ".yaml", "--set", "engine=sim",
		"--set", fmt.Sprintf("port=%d", freePort(t)), "--out", out}, args...)
	cmd := exec.Command(runexpBin, argv...)
	cmd.Env = append(os.Environ(), "RUNEXP_SIM_GPU_DIR="+t.TempDir())
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runexp %s: %v\n%s", name, err, output)
	}
	return mustGlobOne(t, filepath.Join(out, name, runDirGlob))
}

func mustGlobOne(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s matches %v", pattern, m)
	}
	return m[0]
}
