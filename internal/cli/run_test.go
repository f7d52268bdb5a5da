package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// Flags of run may come before and after the file, also when the
// invocation starts with a flag and ends with one: `runexp --out DIR FILE
// --set=d=20ms` is `run`.
func TestRunFlagsMayComeBeforeAndAfterTheFile(t *testing.T) {
	good := writeSpec(t, okSpec)
	out := t.TempDir()
	code, stdout, stderr := run("--out", out, good, "--set=d=20ms")
	if code != 0 || !strings.Contains(stdout, "1/1 points ok") {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%.300s", code, stdout, stderr)
	}
}

// A relative --out still gives steps (which run in their point folder) an
// absolute ${run.dir}.
func TestRunDirIsAbsolute(t *testing.T) {
	spec := writeSpec(t, `version: runexp/v1
name: abs
studies:
  - name: s
    steps:
      - {type: exec, with: {command: [sh, -c, 'touch ${run.dir}/marker && case ${run.dir} in /*) ;; *) exit 9;; esac']}}
`)
	dir := t.TempDir()
	t.Chdir(dir)
	if code, stdout, stderr := run(spec, "--out", "rel"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "rel", "abs", runDirGlob, "marker")); len(m) != 1 {
		t.Errorf("marker not in the run dir: %v", m)
	}
}
