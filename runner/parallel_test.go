package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/steps"
)

// slotsSpec: eight points on four one-GPU slots. Each point's launch
// writes the CUDA_VISIBLE_DEVICES it got; its work step records that, its
// slot variables, and when it ran.
const slotsSpec = `version: runexp/v1
name: slots
parallel: 4
slots: {gpus: [3, 2, 1, 0]}
studies:
  - name: s
    sweep:
      axes: {n: [1, 2, 3, 4, 5, 6, 7, 8]}
    steps:
      - id: server
        type: launch
        with:
          command: ['echo "$$CUDA_VISIBLE_DEVICES" > ${point.dir}/cvd.tmp && mv ${point.dir}/cvd.tmp ${point.dir}/cvd; exec sleep 60']
          shell: true
          stop_grace: 1s
      - id: work
        type: exec
        needs: [server]
        with:
          command:
            - sh
            - -c
            - |
              while [ ! -e ${point.dir}/cvd ]; do sleep 0.02; done
              start=$(date +%s%N); sleep 0.4; end=$(date +%s%N)
              echo "$(cat ${point.dir}/cvd) ${slot.index} ${slot.gpus} $$start $$end"
          record: trace
      - {id: stop, type: teardown, needs: [server], always: true}
    artifacts:
      - {path: results.csv, format: csv, columns: [point, n, trace, status]}
`

type pointTrace struct {
	point, cvd, slotGPUs string
	slot                 int
	start, end           int64
}

// TestParallelPointsEachRunOnTheirOwnSlot: with parallel: 4 over four GPUs,
// every point's launch sees exactly its slot's GPU in CUDA_VISIBLE_DEVICES,
// ${slot.index} and ${slot.gpus} match it, two points of one slot never
// overlap in time, the slots do run side by side, and the artifact lists the
// points in plan order.
func TestParallelPointsEachRunOnTheirOwnSlot(t *testing.T) {
	path := writeSpec(t, slotsSpec)
	p, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.Parallel != 4 || len(p.Slots) != 4 {
		t.Fatalf("plan: parallel %d, slots %+v", p.Parallel, p.Slots)
	}
	start := time.Now()
	var out syncBuffer
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	// Step output of points running at once names its point on every line.
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "started pid") && !strings.HasPrefix(line, "[s ") {
			t.Errorf("step output line without its point: %q", line)
		}
	}
	if code := res.ExitCode(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	rows := testutil.ReadCSV(t, filepath.Join(p.RunDir, "s", "results.csv"))
	var traces []pointTrace
	for i, r := range rows[1:] {
		if want := fmt.Sprintf("%03d", i); r[0] != want {
			t.Errorf("row %d is point %s, want %s (plan order)", i, r[0], want)
		}
		f := strings.Fields(r[2])
		if len(f) != 5 {
			t.Fatalf("point %s trace %q", r[0], r[2])
		}
		slot, _ := strconv.Atoi(f[1])
		a, _ := strconv.ParseInt(f[3], 10, 64)
		b, _ := strconv.ParseInt(f[4], 10, 64)
		traces = append(traces, pointTrace{point: r[0], cvd: f[0], slot: slot, slotGPUs: f[2], start: a, end: b})
	}
	gpuOfSlot := []string{"3", "2", "1", "0"}
	for i, tr := range traces {
		if tr.slot != i%4 || tr.cvd != gpuOfSlot[tr.slot] || tr.slotGPUs != tr.cvd {
			t.Errorf("point %s: slot %d, CUDA_VISIBLE_DEVICES %q, ${slot.gpus} %q; want slot %d on GPU %s",
				tr.point, tr.slot, tr.cvd, tr.slotGPUs, i%4, gpuOfSlot[i%4])
		}
	}
	sort.Slice(traces, func(i, j int) bool { return traces[i].start < traces[j].start })
	concurrent := false
	for i := range traces {
		for j := i + 1; j < len(traces); j++ {
			if traces[j].start < traces[i].end {
				if traces[i].cvd == traces[j].cvd {
					t.Errorf("points %s and %s ran on GPU %s at once", traces[i].point, traces[j].point, traces[i].cvd)
				}
				concurrent = true
			}
		}
	}
	if !concurrent {
		t.Error("no two points ran at once")
	}
	t.Logf("8 points of 0.4 s on 4 slots: %s", wall.Round(time.Millisecond))
}

// TestParallelBeyondTheDeclaredGPUsIsReportedAtTheKey: more points at once
// than the listed GPUs hold slots for is a spec problem at parallel:, and
// --parallel (Options.Parallel) overrides the spec's value.
func TestParallelBeyondTheDeclaredGPUsIsReportedAtTheKey(t *testing.T) {
	path := writeSpec(t, strings.Replace(slotsSpec, "slots: {gpus: [3, 2, 1, 0]}", "slots: {gpus: [0, 1, 2, 3], gpus_per_point: 2, ports: [9100, 9200]}", 1))
	_, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "spec.yaml:3:11: parallel: 4 points at once need 4 slots of 2 GPU(s); 4 GPU(s) hold 2") {
		t.Fatalf("got %v", err)
	}
	p, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir(), Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Slots); got != "[slot 0, GPU 0,1 slot 1, GPU 2,3]" {
		t.Errorf("slots %s", got)
	}
	if env := p.Studies[0].Points[1].Steps[0].With.(*steps.Launch).Env["CUDA_VISIBLE_DEVICES"]; env != "2,3" {
		t.Errorf("point 001's launch CUDA_VISIBLE_DEVICES %q, want 2,3", env)
	}
}

// TestParallelFromTheCommandLineIsNamedAsTheFlag: a --parallel the listed
// GPUs cannot hold is reported at the flag, not at a made-up file:1:1 of a
// spec that has no parallel: key (nor at the spec's parallel: it overrides).
func TestParallelFromTheCommandLineIsNamedAsTheFlag(t *testing.T) {
	for name, body := range map[string]string{
		"NoKey":         strings.Replace(slotsSpec, "parallel: 4\n", "", 1),
		"OverridingKey": strings.Replace(slotsSpec, "parallel: 4\n", "parallel: 1\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runner.Load(writeSpec(t, body), steps.Builtin(), runner.Options{OutDir: t.TempDir(), Parallel: 8})
			want := "--parallel 8 (command line): parallel: 8 points at once need 8 slots of 1 GPU(s); 4 GPU(s) hold 4"
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), ":1:1") {
				t.Fatalf("got %v, want %q", err, want)
			}
		})
	}
}

// TestSlotPortIsTheSlotsDeclaredPortAsAnInteger: ${slot.port} is the
// slot's entry of slots.ports, usable where an integer is wanted (a
// launch's port); fewer ports than slots is a spec problem.
func TestSlotPortIsTheSlotsDeclaredPortAsAnInteger(t *testing.T) {
	body := strings.Replace(slotsSpec, "slots: {gpus: [3, 2, 1, 0]}", "slots: {ports: [9100, 9200, 9300, 9400]}", 1)
	body = strings.Replace(body, "          stop_grace: 1s\n", "          stop_grace: 1s\n          port: ${slot.port}\n", 1)
	p, err := runner.Load(writeSpec(t, body), steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for k, pt := range p.Studies[0].Points {
		l := pt.Steps[0].With.(*steps.Launch)
		if want := steps.Port(9100 + 100*(k%4)); l.Port != want || l.Env["CUDA_VISIBLE_DEVICES"] != "" {
			t.Errorf("point %s: port %d, CUDA_VISIBLE_DEVICES %q; want port %d and no GPUs", pt.ID, l.Port, l.Env["CUDA_VISIBLE_DEVICES"], want)
		}
	}
	_, err = runner.Load(writeSpec(t, strings.Replace(body, "ports: [9100, 9200, 9300, 9400]", "ports: [9100]", 1)), steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "slots.ports: 1 port(s) for 4 points at once: list one per slot") {
		t.Errorf("one port for four slots: %v", err)
	}
}

// simSlotsSpec: four simulated vLLM servers, each asking for 92% of its
// GPU, one per point, all at once on four simulated GPUs.
const simSlotsSpec = `version: runexp/v1
name: simslots
parallel: 4
slots: {gpus: [0, 1, 2, 3], ports: [%d, %d, %d, %d]}
studies:
  - name: s
    sweep:
      axes: {n: [1, 2, 3, 4]}
    steps:
      - id: server
        type: launch
        with:
          command: [runexp, sim, serve, microsoft/Phi-3-mini-4k-instruct, --gpu-memory-utilization, "0.92", --port, "${slot.port}"]
          port: ${slot.port}
          stop_grace: 1s
      - {id: ready, type: wait-ready, needs: [server], with: {interval: 50ms}}
      - {id: mem, type: measure, needs: [ready], with: {gpu: sim}}
      - {id: stop, type: teardown, needs: [server], always: true}
    artifacts:
      - {path: results.csv, format: csv, columns: [point, gpu_mem_used_mb, status, error]}
`

// TestParallelSimulatedServersEachGetTheirOwnSimulatedGPU: on the
// simulator, slots are simulated GPUs: four servers that each take 92% of a
// GPU all start at once (on one GPU all but one would fail), and each
// point's measurement reads its own GPU only.
func TestParallelSimulatedServersEachGetTheirOwnSimulatedGPU(t *testing.T) {
	t.Setenv("RUNEXP_SIM_GPU_DIR", t.TempDir())
	ports := []any{freePort(t), freePort(t), freePort(t), freePort(t)}
	path := writeSpec(t, fmt.Sprintf(simSlotsSpec, ports...))
	out := t.TempDir()
	cmd, buf := startRunexp(t, path, "--out", out)
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("exit %d\n%s", code, buf.String())
	}
	runs, _ := filepath.Glob(filepath.Join(out, "simslots", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run folders %v", runs)
	}
	rows := testutil.ReadCSV(t, filepath.Join(runs[0], "s", "results.csv"))
	for _, r := range rows[1:] {
		if r[2] != "ok" || r[1] != rows[1][1] {
			t.Errorf("point %s: GPU memory %s MB, %s %s; want every point ok with the same memory as point 000 (%s)", r[0], r[1], r[2], r[3], rows[1][1])
		}
	}
}

// TestCtrlCStopsEveryRunningParallelPoint: the first Ctrl-C while four
// points run at once stops all four (their servers torn down), marks every
// unfinished point interrupted, writes the artifact in plan order and exits
// 130.
func TestCtrlCStopsEveryRunningParallelPoint(t *testing.T) {
	body := strings.Replace(slotsSpec, "sleep 0.4;", "sleep 30;", 1)
	out := t.TempDir()
	cmd, buf := startRunexp(t, writeSpec(t, body), "--out", out)
	for n := 1; n <= 4; n++ {
		waitForLine(t, buf, cmd, fmt.Sprintf("[s %d/8 n=%d] work (exec) ...", n, n))
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, buf.String())
	}
	runs, _ := filepath.Glob(filepath.Join(out, "slots", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run folders %v", runs)
	}
	rows := testutil.ReadCSV(t, filepath.Join(runs[0], "s", "results.csv"))
	if len(rows) != 9 {
		t.Fatalf("results.csv: %v", rows)
	}
	for i, r := range rows[1:] {
		if r[0] != fmt.Sprintf("%03d", i) || r[3] != "interrupted" {
			t.Errorf("row %d: %v; want point %03d interrupted", i, r, i)
		}
	}
	if n := strings.Count(buf.String(), "stopped server"); n != 4 {
		t.Errorf("%d servers stopped, want the 4 running ones\n%s", n, buf.String())
	}
	assertNoLeftovers(t)
}
