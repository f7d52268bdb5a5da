package runner_test

import (
	"slices"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
)

// TestSlurmBlockTakesVarsAndSetValues: ${var} in the slurm: block is
// substituted like anywhere else in a spec, with --set values, keeping the
// type of a whole reference (an int var for gpus_per_point, a duration for
// time) and "$$" for a literal $; a block without a $ is used as written.
func TestSlurmBlockTakesVarsAndSetValues(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: slurm-vars
vars:
  partition: debug
  gpus: 1
  limit: 5m
executor: slurm
slurm:
  partition: ${partition}
  gpus_per_point: ${gpus}
  time: ${limit}
  sbatch_args: ["--comment=${partition}", --exclusive, "--comment=a$$b"]
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: 1s}}
`)
	p := compile(t, path, t.TempDir(), spec.Override{Name: "partition", Value: "gpu"}, spec.Override{Name: "gpus", Value: "2"})
	s := p.Slurm
	if s == nil || s.Partition != "gpu" || s.GPUsPerPoint != 2 || s.Time != spec.Duration(5*time.Minute) ||
		!slices.Equal(s.SbatchArgs, []string{"--comment=gpu", "--exclusive", "--comment=a$b"}) {
		t.Errorf("slurm block %+v, want partition gpu, 2 GPUs, 5m, [--comment=gpu --exclusive --comment=a$b]", s)
	}

	literal := compile(t, writeSpec(t, `version: runexp/v1
name: slurm-literal
slurm: {partition: gpu, cpus: 4}
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: 1s}}
`), t.TempDir())
	if s := literal.Slurm; s == nil || s.Partition != "gpu" || s.CPUs != 4 {
		t.Errorf("slurm block without references %+v, want partition gpu, 4 CPUs", s)
	}
}
