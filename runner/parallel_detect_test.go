package runner_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// detectSpec: two points that read a GPU through the backend given, run
// two at once, without slots.
const detectSpec = `version: runexp/v1
name: detect
parallel: 2
studies:
  - name: s
    sweep:
      axes: {n: [1, 2]}
    steps:
      - {id: mem, type: measure, with: {gpu: %s}}
`

func compileDetect(t *testing.T, backend string, host func(string) ([]int, error)) (*runner.Plan, error) {
	t.Helper()
	x, err := spec.Load(writeSpec(t, fmt.Sprintf(detectSpec, backend)))
	if err != nil {
		t.Fatal(err)
	}
	return runner.Compile(x, steps.Builtin(), runner.Options{Now: fixedNow, Env: noEnv, OutDir: t.TempDir(), HostGPUs: host})
}

// TestParallelWithoutSlotsGivesEachPointAGPUOfTheBackendOrRefuses: points
// run at once without slots: GPUs each get a GPU of the backend their
// steps read (the simulator has as many as needed; nvml is asked), and a
// host with fewer GPUs than points at once is refused before anything
// runs, rather than the points sharing a GPU; points that read no GPU run
// at once without any.
func TestParallelWithoutSlotsGivesEachPointAGPUOfTheBackendOrRefuses(t *testing.T) {
	var asked []string
	host := func(gpus ...int) func(string) ([]int, error) {
		return func(backend string) ([]int, error) {
			asked = append(asked, backend)
			return gpus, nil
		}
	}
	p, err := compileDetect(t, "sim", host())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Slots); got != "[slot 0, GPU 0 slot 1, GPU 1]" || len(asked) != 0 {
		t.Errorf("sim: slots %s (asked %v), want two simulated GPUs without asking the host", got, asked)
	}
	p, err = compileDetect(t, "nvml", host(4, 7))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Slots); got != "[slot 0, GPU 4 slot 1, GPU 7]" || !slices.Equal(asked, []string{"nvml"}) {
		t.Errorf("nvml: slots %s (asked %v), want GPUs 4 and 7 of nvml", got, asked)
	}
	_, err = compileDetect(t, "nvml", host(0))
	if err == nil || !strings.Contains(err.Error(), "spec.yaml:3:11: parallel: 2 points at once need 2 GPU(s) (each point run at once needs a GPU of its own), but the nvml backend lists 1: run at most 1 at once") {
		t.Errorf("two points at once on one GPU: %v", err)
	}
	x, err := spec.Load(writeSpec(t, strings.Replace(fmt.Sprintf(detectSpec, "sim"), "parallel: 2", "parallel: 2\nslots: {gpus_per_point: 2}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err = runner.Compile(x, steps.Builtin(), runner.Options{Now: fixedNow, Env: noEnv, OutDir: t.TempDir(), HostGPUs: host()})
	if got := fmt.Sprint(p.Slots); err != nil || got != "[slot 0, GPU 0,1 slot 1, GPU 2,3]" {
		t.Errorf("gpus_per_point: 2 on the simulator: slots %s, %v", got, err)
	}
	p, err = compileDetect(t, "none", host())
	if err != nil || p.Parallel != 2 || len(p.Slots[0].GPUs) != 0 {
		t.Errorf("points that read no GPU: %v, slots %v", err, p.Slots)
	}
}

// TestDay007OnTheSimulatorWithParallel4AndNoSlotsEqualsASequentialRun: the
// shipped experiment with --parallel 4 and no slots: puts each kv-scaling
// point on its own simulated GPU (distinct CUDA_VISIBLE_DEVICES), so its
// measurements equal a sequential run's (all but the timing columns).
func TestDay007OnTheSimulatorWithParallel4AndNoSlotsEqualsASequentialRun(t *testing.T) {
	run := func(args ...string) (string, time.Duration) {
		out := t.TempDir()
		cmd := exec.Command(runexpBin, append([]string{"../experiments/day007.yaml", "--set", "engine=sim", "--out", out}, args...)...)
		cmd.Env = append(os.Environ(), "RUNEXP_SIM_GPU_DIR="+t.TempDir())
		start := time.Now()
		output, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("runexp %v: %v\n%s", args, err, output)
		}
		runs, _ := filepath.Glob(filepath.Join(out, "day007", runDirGlob))
		if len(runs) != 1 {
			t.Fatalf("run dirs %v", runs)
		}
		return runs[0], time.Since(start)
	}
	seq, seqWall := run()
	par, parWall := run("--parallel", "4")
	t.Logf("day007 on the simulator: sequential %s, --parallel 4 %s", seqWall.Round(10*time.Millisecond), parWall.Round(10*time.Millisecond))
	timing := map[string]bool{"server_ready_s": true, "gpu_release_s": true}
	a, b := testutil.ReadCSV(t, filepath.Join(seq, "kv-scaling", "kv_cache_scaling.csv")), testutil.ReadCSV(t, filepath.Join(par, "kv-scaling", "kv_cache_scaling.csv"))
	if len(a) != 5 || len(b) != len(a) {
		t.Fatalf("rows: sequential %d, parallel %d", len(a), len(b))
	}
	for i := range a {
		for j, c := range a[0] {
			if !timing[c] && a[i][j] != b[i][j] {
				t.Errorf("row %d %s: sequential %q, parallel %q", i, c, a[i][j], b[i][j])
			}
		}
	}
	var plan struct {
		Studies []struct {
			Points []struct {
				Steps []struct {
					ID   string
					With struct{ Env map[string]string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(par, "plan.json"))), &plan); err != nil {
		t.Fatal(err)
	}
	var cvd []string
	for _, pt := range plan.Studies[0].Points {
		for _, st := range pt.Steps {
			if st.ID == "server" {
				cvd = append(cvd, st.With.Env["CUDA_VISIBLE_DEVICES"])
			}
		}
	}
	if strings.Join(cvd, " ") != "0 1 2 3" {
		t.Errorf("kv-scaling points' CUDA_VISIBLE_DEVICES %q, want one simulated GPU each", cvd)
	}
	assertNoLeftovers(t)
}

// TestParallelUnderSlurmLeavesRealGPUsToTheAllocation: points run at once
// by the slurm executor get their GPUs from their allocation on the node,
// so the submit host (often without any) is not asked for real GPUs; the
// simulator's GPUs, which need no host, are still given one per point.
func TestParallelUnderSlurmLeavesRealGPUsToTheAllocation(t *testing.T) {
	asked := 0
	noGPUs := func(string) ([]int, error) { asked++; return nil, fmt.Errorf("NVML unavailable") }
	for backend, want := range map[string]string{"nvml": "[slot 0 slot 1]", "sim": "[slot 0, GPU 0 slot 1, GPU 1]"} {
		x, err := spec.Load(writeSpec(t, fmt.Sprintf(detectSpec, backend)))
		if err != nil {
			t.Fatal(err)
		}
		p, err := runner.Compile(x, steps.Builtin(), runner.Options{Now: fixedNow, Env: noEnv, OutDir: t.TempDir(), HostGPUs: noGPUs, Executor: spec.ExecutorSlurm})
		if err != nil {
			t.Fatalf("%s under slurm: %v", backend, err)
		}
		if got := fmt.Sprint(p.Slots); got != want {
			t.Errorf("%s under slurm: slots %s, want %s", backend, got, want)
		}
	}
	if asked != 0 {
		t.Errorf("the submit host was asked for its GPUs %d time(s)", asked)
	}
}
