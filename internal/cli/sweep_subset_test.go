package cli

import (
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
