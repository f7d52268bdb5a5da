package runner_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// Regression (found in review, fixed): Compile must report unequal zipped axes as a spec error, not panic.
func TestCompileZipUnequalLengthsIsAnError(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: zip
studies:
  - name: s
    sweep:
      axes:
        a: [1, 2, 3]
        b: [x, y]
      zip: [[a, b]]
    steps:
      - {type: sleep, with: {duration: 1ms}}
`)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("runner.Load panicked instead of returning a spec error: %v", r)
		}
	}()
	_, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err == nil {
		t.Fatal("no error for unequal zipped axes")
	}
}

type recordStep struct{ v float64 }

func (s *recordStep) Validate() error { return nil }
func (s *recordStep) Run(ctx context.Context, env *steps.Env) error {
	env.Set("ratio", s.v)
	return nil
}

// Regression (found in review, fixed): A step may record NaN/±Inf (steps.Values marshals them as null, so
// result.json is fine), but the study's json/jsonl artifacts then fail
// entirely: every finished point is missing from them.
func TestJSONArtifactSurvivesNonFiniteValue(t *testing.T) {
	reg := steps.NewRegistry(steps.Kind{Name: "rec", Timeout: time.Second, New: func() steps.Step { return &recordStep{} }})
	path := writeSpec(t, `version: runexp/v1
name: nonfinite
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2]
    steps:
      - {type: rec}
    artifacts:
      - {path: points.json, format: json}
      - {path: points.jsonl, format: jsonl}
`)
	x, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.Compile(x, reg, runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Point 2 records +Inf (e.g. a ratio over a zero duration).
	p.Studies[0].Points[1].Steps[0].With.(*recordStep).v = math.Inf(1)
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Errorf("artifact errors: %v", res.Errors)
	}
	for _, name := range []string{"points.json", "points.jsonl"} {
		data, err := os.ReadFile(filepath.Join(res.RunDir, "s", name))
		if err != nil || strings.Count(string(data), `"point"`) != 2 {
			t.Errorf("%s does not hold both points (err %v):\n%s", name, err, data)
		}
	}
}

// Regression (found in review, fixed): Two runs of the same experiment started within the same second share a
// run directory: the second silently overwrites the first's spec, plan,
// manifest, results and artifacts.
func TestSameSecondRunsGetTheirOwnFolders(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: twice
vars: {tag: first}
studies:
  - name: s
    steps:
      - {type: exec, with: {command: [sh, -c, 'echo ${tag} > ${run.dir}/tag-${tag}']}}
`)
	out := t.TempDir()
	now := time.Now()
	x, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, tag := range []string{"first", "second"} {
		p, err := runner.Compile(x, steps.Builtin(), runner.Options{OutDir: out, Now: now,
			Overrides: []spec.Override{{Name: "tag", Value: tag}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := runner.Execute(context.Background(), p, runner.ExecOptions{})
		if err != nil {
			// refusing to reuse the directory is an acceptable fix
			continue
		}
		dirs = append(dirs, res.RunDir)
	}
	if len(dirs) == 2 && dirs[0] == dirs[1] {
		m, _ := os.ReadFile(filepath.Join(dirs[0], "manifest.json"))
		t.Fatalf("both runs wrote into %s; the first run's manifest is gone:\n%.300s", dirs[0], m)
	}
}

// Regression (found in review, fixed): A chart artifact whose path is neither .svg nor .png passes validate and
// plan, and only fails when the study ends (after every point has run).
func TestChartExtensionValidated(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: chart
studies:
  - name: s
    sweep:
      axes:
        n: [1, 2]
    steps:
      - {type: sleep, with: {duration: 1ms}}
    artifacts:
      - {path: latency.jpg, format: chart, chart: {x: n, y: [seconds]}}
`)
	_, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err == nil {
		t.Fatal("chart path latency.jpg accepted by validation; the run only fails at the end: chart path must end in .svg or .png")
	}
}
