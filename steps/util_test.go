package steps

import (
	"os"
	"slices"
	"testing"
)

// A launch or exec environment is rendered as KEY=VALUE pairs sorted by key,
// so the command a point ran reads the same on every run.
func TestEnvListIsSortedKeyValuePairs(t *testing.T) {
	if got := envList(map[string]string{"B": "2", "A": "1"}); !slices.Equal(got, []string{"A=1", "B=2"}) {
		t.Errorf("envList %v", got)
	}
}

// A command whose program is `runexp` runs this very binary (so `runexp sim
// serve` runs the built-in simulator wherever runexp is installed); any
// other program is left alone.
func TestResolveProgramRunsRunexpAsThisBinary(t *testing.T) {
	self, _ := os.Executable()
	if got := resolveProgram([]string{"runexp", "sim", "serve"}); got[0] != self || !slices.Equal(got[1:], []string{"sim", "serve"}) {
		t.Errorf("resolveProgram(runexp) = %v", got)
	}
	if got := resolveProgram([]string{"vllm", "serve"}); !slices.Equal(got, []string{"vllm", "serve"}) {
		t.Errorf("resolveProgram(vllm) = %v", got)
	}
	if got := resolveProgram(nil); got != nil {
		t.Errorf("resolveProgram(nil) = %v", got)
	}
}
