package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/load/loadtest"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// A point that runs every kind records only names its steps declare, so
// validate never rejects a name a run would write.
func TestEveryNameARunRecordsIsDeclared(t *testing.T) {
	t.Setenv(simgpu.StateDirEnv, t.TempDir())
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "spec.yaml")
	body := `version: runexp/v1
name: declared
studies:
  - name: s
    sweep: {axes: {n: [1]}}
    steps:
      - {id: baseline, type: measure, with: {gpu: sim, baseline: true}}
      - {id: server, type: launch, with: {command: [sleep, "30"]}}
      - {id: ready, type: wait-ready, with: {server: server, url: "` + srv.URL + `/loadtest/stats"}}
      - {type: telemetry, with: {gpu: sim, interval: 20ms}}
      - {id: memory, type: measure, with: {gpu: sim, log: vllm, predict: {model: microsoft/Phi-3-mini-4k-instruct, max_model_len: 2048, gpu_memory_utilization: 0.9}}}
      - type: load
        with:
          url: "` + srv.URL + `"
          model: m
          modes: [{kind: sequential, requests: 2}, {name: burst, kind: concurrent, concurrency: 2, requests: 2}]
          metadata: {engine: fake}
      - {id: probe, type: exec, with: {command: [echo, hi], record: probe_out}}
      - {type: teardown}
      - {type: release-check, with: {gpu: sim, within: 2s}}
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(x, steps.Builtin(), Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Execute(context.Background(), p, ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr := res.Points[0]
	if pr.Status != StatusOK {
		t.Fatalf("point %s at %s: %s", pr.Status, pr.Phase, pr.Error)
	}
	outs, ok := declaredOutputs(p.Studies[0])
	if !ok {
		t.Fatal("a built-in kind declares no outputs")
	}
	for _, k := range pr.Values.Keys() {
		if !outs.points.Has(k) {
			t.Errorf("value %s recorded but not declared", k)
		}
	}
	for table, rows := range pr.Tables {
		names, ok := outs.tables[table]
		if !ok {
			t.Errorf("table %s recorded but not declared", table)
			continue
		}
		for _, row := range rows {
			for _, k := range row.Keys() {
				if !names.Has(k) {
					t.Errorf("%s column %s recorded but not declared", table, k)
				}
			}
		}
	}
	for _, want := range []string{"server_pid", "server_ready_s", "burst_output_throughput", "gpu_util_mean", "gpu_mem_used_mb", "predicted_kv_tokens", "probe_exit", "probe_out", "gpu_release_s"} {
		if _, ok := pr.Values.Get(want); !ok {
			t.Errorf("%s not recorded; values: %v", want, pr.Values.Keys())
		}
	}
}
