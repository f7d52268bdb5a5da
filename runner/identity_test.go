package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

const identitySpec = `version: runexp/v1
name: ident
vars: {greeting: hello}
studies:
  - name: s
    sweep:
      axes: {n: [%s]}
    steps:
      - id: say
        type: exec
        with:
          command: [sh, -c, "echo ${greeting} ${n} > ${point.dir}/out.txt; echo ${n}"]
          record: said
    artifacts:
      - {path: results.csv, format: csv}
`

func identities(t *testing.T, values, out string, sets ...string) map[string]string {
	t.Helper()
	path := writeSpec(t, strings.Replace(identitySpec, "%s", values, 1))
	p := compile(t, path, out, overrides(t, sets...)...)
	got := map[string]string{}
	for _, pt := range p.Studies[0].Points {
		if pt.Identity == "" {
			t.Fatalf("point %s has no identity", pt.ID)
		}
		got[pt.Label] = pt.Identity
	}
	return got
}

// TestPointIdentityDependsOnWhatRunsNotOnPosition: inserting a value in an
// axis renumbers the points (id, slug, folder) but leaves the other points'
// identities alone, as does a different run folder; a different resolved
// configuration changes it.
func TestPointIdentityDependsOnWhatRunsNotOnPosition(t *testing.T) {
	before := identities(t, "1, 3", t.TempDir())
	after := identities(t, "1, 2, 3", t.TempDir())
	for _, label := range []string{"n=1", "n=3"} {
		if before[label] != after[label] {
			t.Errorf("%s: identity %s became %s when n=2 was inserted", label, before[label], after[label])
		}
	}
	if after["n=2"] == after["n=1"] || after["n=2"] == after["n=3"] {
		t.Errorf("distinct points share an identity: %v", after)
	}
	changed := identities(t, "1, 3", t.TempDir(), "greeting=bye")
	if changed["n=1"] == before["n=1"] {
		t.Errorf("a changed var in a step's argv kept the identity %s", before["n=1"])
	}
}

// TestPointIdentityIsRecordedInResultManifestAndPlanJSON: result.json, the
// journal, the final manifest and the plan JSON carry each point's identity.
func TestPointIdentityIsRecordedInResultManifestAndPlanJSON(t *testing.T) {
	path := writeSpec(t, strings.Replace(identitySpec, "%s", "1, 2", 1))
	p := compile(t, path, t.TempDir())
	if _, err := runner.Execute(context.Background(), p, runner.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	planJSON, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := runner.ReadManifest(p.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	for i, pt := range p.Studies[0].Points {
		if !strings.Contains(string(planJSON), `"identity":"`+pt.Identity+`"`) {
			t.Errorf("plan JSON lacks the identity of point %s", pt.ID)
		}
		var pr runner.PointResult
		data, err := os.ReadFile(filepath.Join(pt.Dir, "result.json"))
		if err != nil || json.Unmarshal(data, &pr) != nil {
			t.Fatalf("result.json of %s: %v", pt.ID, err)
		}
		if pr.Identity != pt.Identity {
			t.Errorf("result.json of %s: identity %q, want %q", pt.ID, pr.Identity, pt.Identity)
		}
		if m.Points[i].Identity != pt.Identity {
			t.Errorf("manifest point %d: identity %q, want %q", i, m.Points[i].Identity, pt.Identity)
		}
	}
	journal := readFile(t, filepath.Join(p.RunDir, runner.JournalName))
	for _, pt := range p.Studies[0].Points {
		if !strings.Contains(journal, pt.Identity) {
			t.Errorf("the journal lacks the identity of point %s", pt.ID)
		}
	}
}

// overrides parses NAME=VALUE strings as --set does.
func overrides(t *testing.T, sets ...string) []spec.Override {
	t.Helper()
	var out []spec.Override
	for _, s := range sets {
		o, err := spec.ParseOverride(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// TestPointIdentityDoesNotDependOnTheSlotItRunsOn: the GPUs a slot pins a
// point to (CUDA_VISIBLE_DEVICES, the devices its steps read) are where it
// runs, not what it runs, so a run resumed or re-run with another
// --parallel keeps its finished points.
func TestPointIdentityDoesNotDependOnTheSlotItRunsOn(t *testing.T) {
	x, err := spec.Load(writeSpec(t, fmt.Sprintf(detectSpec, "sim")))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(parallel int) []string {
		p, err := runner.Compile(x, steps.Builtin(), runner.Options{Now: fixedNow, Env: noEnv, OutDir: t.TempDir(), Parallel: parallel})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, pt := range p.Studies[0].Points {
			out = append(out, pt.Identity)
		}
		return out
	}
	one, two := ids(1), ids(2)
	if !slices.Equal(one, two) {
		t.Errorf("identities on one slot %v, on two GPU slots %v", one, two)
	}
}
