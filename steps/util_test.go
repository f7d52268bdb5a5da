package steps

import (
	"os"
	"slices"
	"testing"
)

func TestUtilHelpers(t *testing.T) {
	if got := envList(map[string]string{"B": "2", "A": "1"}); !slices.Equal(got, []string{"A=1", "B=2"}) {
		t.Errorf("envList %v", got)
	}
	names := Signal("").Values()
	if !slices.IsSorted(names) || !slices.Contains(names, "SIGTERM") || !slices.Contains(names, "SIGKILL") {
		t.Errorf("signalNames %v", names)
	}
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
	for x, want := range map[float64]float64{1.25: 1.3, -1.25: -1.3, 2.04: 2} {
		if got := round1(x); got != want {
			t.Errorf("round1(%v) = %v", x, got)
		}
	}
	if got := round3(1.23456); got != 1.235 {
		t.Errorf("round3 = %v", got)
	}
	if got := mib(3 << 20); got != 3 {
		t.Errorf("mib = %v", got)
	}
}
