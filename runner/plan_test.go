package runner_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// The shipped day007 experiment sweeps four max_model_len values on vLLM,
// and one variable (engine=sim) switches it to the simulator.
func TestShippedDay007PlanSweepsFourMaxModelLensAndEngineSwitchesToTheSimulator(t *testing.T) {
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

// A --set that names no var, does not fit the var's type, picks no case, or
// sets a var another var chooses is refused with a message saying which; a
// good one reaches the steps.
func TestOverridesReportWhatIsWrongAndReachTheSteps(t *testing.T) {
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

// plan.json / `runexp plan --json` is the machine-readable plan: its
// artifacts, like every other part of it, use the snake_case names of the
// spec and hide positions and YAML nodes.
func TestPlanJSONArtifactsUseSpecKeysAndHideYAMLNodes(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: planjson
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: 1ms}}
    artifacts:
      - {path: points.csv, format: csv, columns: [status]}
`)
	p := compile(t, path, t.TempDir())
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Studies []struct {
			Artifacts []map[string]any `json:"artifacts"`
		} `json:"studies"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	a := v.Studies[0].Artifacts[0]
	if a["path"] != "points.csv" || a["format"] != "csv" {
		t.Errorf("artifact in plan JSON lacks path/format keys: %v", keysOf(a))
	}
	if _, ok := a["Node"]; ok {
		t.Errorf("artifact in plan JSON dumps its YAML node tree: %v", keysOf(a))
	}
}
