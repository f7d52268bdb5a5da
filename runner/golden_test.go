package runner_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./runner -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func noEnv(string) (string, bool) { return "", false }

// compileFile runs the same stages as `runexp validate`.
func compileFile(path string, sets ...spec.Override) (*runner.Plan, error) {
	return runner.Load(path, steps.Builtin(), runner.Options{Now: fixedNow, Env: noEnv, Overrides: sets})
}

func TestBadSpecsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad specs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := compileFile(f)
			if err == nil {
				t.Fatal("expected errors")
			}
			var list spec.ErrorList
			if !errorsAs(err, &list) {
				t.Fatalf("want a positioned ErrorList, got %T: %v", err, err)
			}
			for _, e := range list {
				if e.Pos.Line == 0 || e.Pos.File != f {
					t.Errorf("problem without position: %v", e)
				}
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

func errorsAs(err error, list *spec.ErrorList) bool {
	l, ok := err.(spec.ErrorList)
	*list = l
	return ok
}

func TestGoodSpecsPlanGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	files = append(files, "../experiments/day007.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := compileFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			p.WriteText(&b)
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			golden(t, filepath.Join("testdata", "good", name+".plan.golden"), b.Bytes())
		})
	}
}

func TestDay007PlanHasFourMaxModelLenPoints(t *testing.T) {
	p, err := compileFile("../experiments/day007.yaml")
	if err != nil {
		t.Fatal(err)
	}
	study := p.Studies[0]
	if len(study.Points) != 4 {
		t.Fatalf("%d points", len(study.Points))
	}
	launchOf := func(pt *runner.PointPlan) *steps.Launch {
		for _, st := range pt.Steps {
			if l, ok := st.With.(*steps.Launch); ok {
				return l
			}
		}
		t.Fatal("no launch step")
		return nil
	}
	for i, want := range []string{"512", "1024", "2048", "4096"} {
		l := launchOf(study.Points[i])
		argv := strings.Join(l.Command, " ")
		if !strings.Contains(argv, "--max-model-len "+want+" ") || !strings.HasPrefix(argv, "vllm serve microsoft/Phi-3-mini-4k-instruct") {
			t.Errorf("point %d argv %q", i, argv)
		}
	}
	// One variable switches to the simulator.
	p, err = compileFile("../experiments/day007.yaml", spec.Override{Name: "engine", Value: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	if argv := launchOf(p.Studies[0].Points[0]).Command; strings.Join(argv[:3], " ") != "runexp sim serve" {
		t.Errorf("sim argv %v", argv)
	}
}

func TestOverrides(t *testing.T) {
	for _, tc := range []struct {
		set  spec.Override
		want string
	}{
		{spec.Override{Name: "prot", Value: "1"}, `--set prot: no such var (did you mean "port"?)`},
		{spec.Override{Name: "port", Value: "abc"}, "--set port=abc: expected an integer"},
		{spec.Override{Name: "engine", Value: "gpu"}, `--set engine=gpu: var server has no case "gpu" (cases: real, sim)`},
		{spec.Override{Name: "server", Value: "x"}, `--set server: this var is chosen by "engine"; set that instead`},
	} {
		_, err := compileFile("testdata/good/sweeps.yaml", tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s=%s: got %v, want %q", tc.set.Name, tc.set.Value, err, tc.want)
		}
	}
	p, err := compileFile("testdata/good/sweeps.yaml", spec.Override{Name: "port", Value: "9001"})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Studies[0].Points[0].Steps[0].With.(*steps.Launch); l.Port != 9001 {
		t.Errorf("port %d", l.Port)
	}
}
