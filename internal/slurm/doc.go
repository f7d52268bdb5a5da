// Package slurm runs a run's points on a Slurm cluster through Slurm's own
// command-line tools: each study becomes one array job (sbatch --parsable
// --array=0-(N-1)%K) whose task i runs `runexp run-point RUN_DIR STUDY/ID`
// into the shared run folder; the submitter polls scontrol (sacct when
// accounting is enabled) with backoff, and maps each task's end to a row:
// the task's own result.json when it wrote one, else a failed row naming
// the Slurm state and the task log's tail. Executor implements
// runner.Executor and runner.JobStopper; the runner knows nothing of Slurm
// but the slurm: block (spec.Slurm), whose ArrayJobArgs builds the sbatch
// options both for the executor and for runexp plan.
//
// The CLI type wraps sbatch, scontrol, sacct and scancel behind an injected
// command runner, so parsing is tested against recorded outputs; the
// integration tests run against a real cluster
// (scripts/slurm-dev-cluster.sh) and skip when sinfo is absent.
package slurm
