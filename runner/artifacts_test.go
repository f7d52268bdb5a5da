package runner_test

import (
	"context"
	"encoding/json"
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

// recordStep records its v as "ratio".
type recordStep struct{ v float64 }

var _ steps.Step = (*recordStep)(nil)

func (s *recordStep) Validate() error { return nil }
func (s *recordStep) Run(ctx context.Context, env *steps.Env) error {
	env.Set("ratio", s.v)
	return nil
}

// A step may record NaN or ±Inf (written as null); the study's json and
// jsonl artifacts still hold every point.
func TestJSONArtifactsKeepEveryPointWhenAValueIsNonFinite(t *testing.T) {
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

// A json artifact is a list of rows (one per point or table row). When a
// table has no rows (from: load.summary and every point failed before its
// load step) the file is still a JSON array, [], not null.
func TestJSONArtifactOfAnEmptyTableIsAnEmptyArray(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: emptytable
studies:
  - name: s
    sweep: {axes: {n: [1, 2]}}
    steps:
      - {type: exec, with: {command: ["false"]}}
      - {type: load, with: {url: "http://127.0.0.1:9", model: m, modes: [{kind: sequential, requests: 1}]}}
    artifacts:
      - {path: summary.json, format: json, from: load.summary}
`)
	p := compile(t, path, t.TempDir())
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(res.RunDir, "s", "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(data, &rows); err != nil || rows == nil {
		t.Errorf("summary.json is %q, want an empty JSON array []", data)
	}
}
