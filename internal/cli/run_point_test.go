package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunPointRunsOnePointOfARunFolderIntoItsFolder(t *testing.T) {
	spec := writeSpec(t, `version: runexp/v1
name: rp
studies:
  - name: s
    sweep:
      axes:
        word: [alpha, beta]
    steps:
      - {id: say, type: exec, with: {command: [echo, "${word}"], record: said}}
`)
	out := t.TempDir()
	if code, stdout, stderr := run(spec, "--out", out); code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "rp", "[0-9]*"))
	if len(dirs) != 1 {
		t.Fatalf("run folders %v", dirs)
	}
	point := filepath.Join(dirs[0], "s", "001_word-beta")
	os.Remove(filepath.Join(point, "result.json"))

	code, stdout, stderr := run("run-point", dirs[0], "s/001", "--job", "77_1")
	if code != 0 {
		t.Fatalf("run-point: exit %d\n%s%s", code, stdout, stderr)
	}
	var pr struct {
		Status string         `json:"status"`
		Job    string         `json:"job"`
		Values map[string]any `json:"values"`
	}
	data, err := os.ReadFile(filepath.Join(point, "result.json"))
	if err != nil || json.Unmarshal(data, &pr) != nil {
		t.Fatalf("result.json: %v %s", err, data)
	}
	if pr.Status != "ok" || pr.Job != "77_1" || pr.Values["said"] != "beta" {
		t.Errorf("result %+v", pr)
	}
	// The run's own files are the submitter's: run-point leaves them.
	m, _ := os.ReadFile(filepath.Join(dirs[0], "manifest.json"))
	if strings.Contains(string(m), "77_1") {
		t.Error("run-point wrote the manifest")
	}
}

func TestRunPointUsageErrors(t *testing.T) {
	notRun := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no point", []string{"run-point", notRun}, "want RUN_DIR STUDY/POINT"},
		{"point without study", []string{"run-point", notRun, "001"}, `"001": want STUDY/POINT`},
		{"not a run folder", []string{"run-point", notRun, "s/001"}, "is not a run folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(tc.args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, ExitUsage, tc.want)
			}
		})
	}
}

func TestExecutorFlagNamesItsValues(t *testing.T) {
	code, _, stderr := run(writeSpec(t, okSpec), "--executor", "slrum", "--out", t.TempDir())
	if code != ExitUsage || !strings.Contains(stderr, `"slrum" is not one of local, slurm (did you mean "slurm"?)`) {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestSlurmExecutorNeedsSlurmsToolsOnTheSubmitHost(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no sbatch
	out := t.TempDir()
	code, _, stderr := run(writeSpec(t, okSpec), "--executor", "slurm", "--out", out)
	if code != ExitUsage || !strings.Contains(stderr, "--executor slurm: sbatch is not on PATH") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if dirs, _ := filepath.Glob(filepath.Join(out, "*")); len(dirs) != 0 {
		t.Errorf("a run folder was made: %v", dirs)
	}
}

// TestSlurmRunStopsOnAnUnsetAPIKeyBeforeSubmitting: the submit host's
// preflight checks what the tasks inherit from it (api_key_env), and not
// the programs the nodes run; nothing is submitted and no run folder made.
func TestSlurmRunStopsOnAnUnsetAPIKeyBeforeSubmitting(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"sbatch", "scontrol", "scancel"} {
		script := "#!/bin/sh\necho \"$0 must not run\" >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	out := t.TempDir()
	code, _, stderr := run(writeSpec(t, `version: runexp/v1
name: cli
studies:
  - name: s
    steps:
      - {id: server, type: launch, with: {command: [no-such-engine, serve, --port, "{port}"], port: auto}}
      - {type: load, with: {url: "http://127.0.0.1:1", model: m, api_key_env: RUNEXP_TEST_UNSET_KEY, modes: [{name: a, kind: sequential, requests: 1}]}}
`), "--executor", "slurm", "--out", out)
	if code != ExitUsage || !strings.Contains(stderr, "api_key_env RUNEXP_TEST_UNSET_KEY is not set") {
		t.Errorf("exit %d, want %d and the unset variable named: %s", code, ExitUsage, stderr)
	}
	if strings.Contains(stderr, "no-such-engine") || strings.Contains(stderr, "must not run") {
		t.Errorf("the node's program was checked on the submit host, or a job was submitted: %s", stderr)
	}
	if dirs, _ := filepath.Glob(filepath.Join(out, "*")); len(dirs) != 0 {
		t.Errorf("a run folder was made: %v", dirs)
	}
}

// TestCheckOfASlurmSpecLeavesTheProgramsToTheNodes: runexp check on the
// submit host of a slurm spec does not fail on a program only the nodes
// have, and says what it checked.
func TestCheckOfASlurmSpecLeavesTheProgramsToTheNodes(t *testing.T) {
	code, stdout, stderr := run("check", writeSpec(t, `version: runexp/v1
name: cli
executor: slurm
studies:
  - name: s
    steps:
      - {id: server, type: launch, with: {command: [no-such-engine, serve, --port, "{port}"], port: auto}}
`))
	if code != ExitOK || !strings.Contains(stdout, "ready to submit from this host (each node checks its programs, ports and GPUs)") {
		t.Errorf("exit %d: %s%s", code, stdout, stderr)
	}
}
