package runner_test

import (
	"bytes"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// TestSlurmPlanShowsTheSubmissionOfEachStudy: runexp plan (text and JSON)
// of a slurm run names the executor and, per study, the sbatch command its
// array job is submitted with: one task per point, the slurm block's
// options after ${var} substitution with --set values.
func TestSlurmPlanShowsTheSubmissionOfEachStudy(t *testing.T) {
	for _, countOnly := range []bool{false, true} { // plan --json streams its points
		p, err := runner.Load("testdata/slurm-plan/spec.yaml", steps.Builtin(), runner.Options{
			Now: fixedNow, Env: noEnv, RunDir: "/runs/slurm-plan/20261126T120000Z", CountOnly: countOnly,
			Overrides: []spec.Override{{Name: "partition", Value: "gpu"}}, Parallel: 2})
		if err != nil {
			t.Fatal(err)
		}
		var text, js bytes.Buffer
		if err := p.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := p.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		golden(t, "testdata/slurm-plan/plan.golden", text.Bytes())
		golden(t, "testdata/slurm-plan/plan.json.golden", js.Bytes())
	}
}
