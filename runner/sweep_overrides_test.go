package runner_test

import (
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

const twoAxisSpec = `version: runexp/v1
name: axes
vars: {engine: sim}
studies:
  - name: grid
    sweep:
      axes:
        util: [0.8, 0.9]
        len: [512, 1024, 2048]
    steps:
      - {type: sleep, with: {duration: 1ms}}
  - name: single
    steps:
      - {type: sleep, with: {duration: 1ms}}
`

func labels(p *runner.Plan, study string) []string {
	var out []string
	for _, s := range p.Studies {
		if s.Name == study {
			s.EachPoint(func(pt *runner.PointPlan) bool {
				out = append(out, pt.ID+" "+pt.Label)
				return true
			})
		}
	}
	return out
}

func compileWith(t *testing.T, sets, only []spec.Override) (*runner.Plan, error) {
	t.Helper()
	return runner.Load(writeSpec(t, twoAxisSpec), steps.Builtin(), runner.Options{Now: fixedNow, Env: noEnv, Overrides: sets, Only: only, OutDir: t.TempDir()})
}

func TestSetOfASweepAxisReplacesItsValues(t *testing.T) {
	p, err := compileWith(t, []spec.Override{{Name: "len", Value: "[4096, 8192]"}, {Name: "engine", Value: "sim"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(labels(p, "grid"), "; ")
	if want := "000 util=0.8 len=4096; 001 util=0.8 len=8192; 002 util=0.9 len=4096; 003 util=0.9 len=8192"; got != want {
		t.Errorf("points %s, want %s", got, want)
	}
	p, err = compileWith(t, []spec.Override{{Name: "util", Value: "0.7"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(labels(p, "grid")); got != 3 {
		t.Errorf("one value for util: %d points, want 3", got)
	}
}

func TestOnlyRunsTheMatchingPointsWithTheirFullSweepIDsAndLeavesOutStudiesWithoutTheAxis(t *testing.T) {
	p, err := compileWith(t, nil, []spec.Override{{Name: "len", Value: "1024"}, {Name: "util", Value: "0.9"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(labels(p, "grid"), "; "); got != "004 util=0.9 len=1024" {
		t.Errorf("points %q", got)
	}
	if len(p.Studies) != 1 {
		t.Errorf("studies %d, want the grid only", len(p.Studies))
	}
	p, err = compileWith(t, nil, []spec.Override{{Name: "len", Value: "512"}, {Name: "len", Value: "2048"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(labels(p, "grid"), "; "); got != "000 util=0.8 len=512; 002 util=0.8 len=2048; 003 util=0.9 len=512; 005 util=0.9 len=2048" {
		t.Errorf("points %q", got)
	}
	if p.Studies[0].PointCount != 4 {
		t.Errorf("counted %d points, want 4", p.Studies[0].PointCount)
	}
}

func TestOnlyAndSetOfAnAxisReportUnknownAxesAndValues(t *testing.T) {
	for _, c := range []struct {
		sets, only []spec.Override
		want       string
	}{
		{only: []spec.Override{{Name: "lenn", Value: "1"}}, want: `--only lenn: no sweep axis lenn (did you mean "len"?) (axes: util, len)`},
		{only: []spec.Override{{Name: "len", Value: "1000"}}, want: "--only len=1000: the axis has no such value (values: 512, 1024, 2048)"},
		{sets: []spec.Override{{Name: "len", Value: "{a: 1}"}}, want: "--set len={a: 1}: write the axis' values as a YAML list"},
	} {
		_, err := compileWith(t, c.sets, c.only)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want %q", c.sets, c.only, err, c.want)
		}
	}
}
