package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// TestReview2SelectDefaultWithoutCaseIsSpecError: when no --set is given and
// the chooser's value written in the file has no case, the problem is in the
// spec, so it must come back as a positioned spec.ErrorList (file:line:col,
// exit 2) together with every other problem of the file. Today
// Vars.Resolve's message is wrapped in a *UsageError with no position
// ("runexp: var server: engine=\"tgi\" has no case ..."), and runner.Load
// drops every other spec problem (here the unknown field `bogus`).
func TestReview2SelectDefaultWithoutCaseIsSpecError(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: x
vars:
  engine: tgi
  server:
    select: engine
    cases: {vllm: [vllm, serve], sim: [runexp, sim, serve]}
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: 1ms}, bogus: 1}
`)
	_, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want a positioned spec.ErrorList, got %T: %v", err, err)
	}
	var sawCase, sawBogus bool
	for _, e := range list {
		if e.Pos.Line == 0 {
			t.Errorf("problem without line: %v", e)
		}
		sawCase = sawCase || strings.Contains(e.Msg, "no case")
		sawBogus = sawBogus || strings.Contains(e.Path, "bogus")
	}
	if !sawCase || !sawBogus {
		t.Errorf("want both the select problem and the unknown field, got:\n%v", err)
	}
}

// TestReview2EmptyTableJSONArtifactIsArray: a json artifact is a list of rows
// (one per point or table row). When a table has no rows — e.g. from:
// load.summary and every point failed before its load step — the file must
// still be a JSON array ("[]"), not the literal `null` that
// json.MarshalIndent writes for a nil slice.
func TestReview2EmptyTableJSONArtifactIsArray(t *testing.T) {
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

// TestReview2PlanJSONArtifacts: plan.json / `runexp plan --json` is the
// machine-readable plan; every other part of it uses the snake_case names of
// the spec and hides positions and YAML nodes (json:"-" on StepPlan.Pos,
// PointPlan.Point). spec.Artifact has no json tags, so each artifact is
// dumped as {"Path", "Format", ..., "Pos", "Node": <the whole yaml.Node tree>}.
func TestReview2PlanJSONArtifacts(t *testing.T) {
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

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
