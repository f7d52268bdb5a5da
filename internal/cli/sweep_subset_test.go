package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `plan` shows what --set of an axis and --only do: the replaced values,
// the kept points under their full-sweep ids, and the --only line.
func TestPlanShowsSetOfAnAxisAndOnly(t *testing.T) {
	code, stdout, stderr := run("plan", "../../experiments/day007.yaml", "--set", "engine=sim",
		"--set", "max_model_len=[1024,8192]", "--only", "max_model_len=8192", "--out", t.TempDir())
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"only       max_model_len=8192", "1 studies, 1 points", "point 001 max_model_len=8192"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%.600s", want, stdout)
		}
	}
	if strings.Contains(stdout, "max_model_len=1024\n") {
		t.Errorf("plan shows a point --only left out")
	}
}

// A run of a subset says so in its manifest, and writes only those points.
func TestRunWithOnlyRecordsTheSubsetInTheManifest(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: subset
studies:
  - name: s
    sweep: {axes: {n: [1, 2, 3]}}
    steps:
      - {type: sleep, with: {duration: 1ms}}
`)
	out := t.TempDir()
	code, stdout, stderr := run(path, "--out", out, "--only", "n=2")
	if code != ExitOK || !strings.Contains(stdout, "1/1 points ok") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	m, _ := filepath.Glob(filepath.Join(out, "subset", runDirGlob, "manifest.json"))
	if len(m) != 1 {
		t.Fatalf("manifests %v", m)
	}
	data, _ := os.ReadFile(m[0])
	if !strings.Contains(string(data), `"only": [`) || !strings.Contains(string(data), `"n=2"`) {
		t.Errorf("manifest does not record --only:\n%s", data)
	}
	if pts, _ := filepath.Glob(filepath.Join(filepath.Dir(m[0]), "s", "0*")); len(pts) != 1 || filepath.Base(pts[0]) != "001_n-2" {
		t.Errorf("point folders %v, want 001_n-2 only", pts)
	}
}
