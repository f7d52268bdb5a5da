package runner_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/spec"
)

// Each artifact name no step of the study records is reported at its own
// key and position, with the nearest recorded name as a suggestion.
func TestValidateRejectsArtifactNamesNoStepRecordsWithDidYouMean(t *testing.T) {
	_, err := compileFile("testdata/bad/outputs.yaml")
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want a positioned ErrorList, got %T: %v", err, err)
	}
	want := []struct {
		path, suggestion string
		line, col        int
	}{
		{"studies[0].artifacts[0].columns[1]", `"kv_cache_tokens"`, 26, 34},
		{"studies[0].artifacts[1].from", `"load.summary"`, 29, 9},
		{"studies[0].artifacts[2].columns[2]", `"engine"`, 33, 34},
		{"studies[0].artifacts[3].chart.y[1]", `"run_output_throughput"`, 36, 55},
	}
	if len(list) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		e := list[i]
		if e.Path != w.path || e.Pos.Line != w.line || e.Pos.Col != w.col || !strings.Contains(e.Msg, "did you mean "+w.suggestion) {
			t.Errorf("problem %d = %v, want at %d:%d %s suggesting %s", i, e, w.line, w.col, w.path, w.suggestion)
		}
	}
}

// Artifacts may name sweep axes, the point's own fields, load metadata and
// names built from a step's id or prefix.
func TestValidateAcceptsSweepAxesPointFieldsMetadataAndPatternNames(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: names
studies:
  - name: s
    sweep: {axes: {conc: [1, 2]}}
    steps:
      - id: srv
        type: launch
        with: {command: [sleep, "10"], port: 8000}
      - id: ready
        type: wait-ready
      - type: telemetry
        with: {gpu: sim}
      - type: measure
        with: {gpu: sim, metrics: /metrics, prefix: smi_, json: [{path: /v1/models, field: "data[0].max_model_len"}]}
      - type: load
        with:
          model: m
          modes: [{kind: concurrent, concurrency: "${conc}", requests: 4}]
          metadata: {engine: sim}
      - id: probe
        type: exec
        with: {command: ["true"], record: probe_out}
      - type: release-check
        with: {gpu: sim}
    artifacts:
      - path: points.csv
        format: csv
        columns: [point, conc, status, phase, error, seconds, engine, srv_pid, srv_stop_s, srv_ready_s,
                  concurrent_output_throughput, concurrent_gpu_util_mean, gpu_util_mean, smi_metrics_kv_cache_usage,
                  smi_data_0_max_model_len, smi_gpu_mem_used_mb, probe_exit, probe_out, gpu_release_s]
      - path: summary.csv
        format: csv
        from: load.summary
        columns: [point, conc, mode, output_throughput, errors_by_class.timeout, engine]
      - path: telemetry.json
        format: json
        from: telemetry.summary
      - path: ttft.svg
        format: chart
        from: load.requests
        chart: {value: ttft_ms, group: conc}
`)
	if _, err := compileFile(path); err != nil {
		t.Fatal(err)
	}
}

// A broken step declares no outputs, so artifact names are not checked
// against it: only the step's own problem is reported.
func TestValidateSkipsArtifactNamesWhenAStepIsBroken(t *testing.T) {
	_, err := compileFile("testdata/bad/artifact-names-after-broken-step.yaml")
	var list spec.ErrorList
	if !errors.As(err, &list) || len(list) != 1 || !strings.Contains(list[0].Msg, "unknown step type") {
		t.Fatalf("want only the step type problem, got %v", err)
	}
}

// Every shipped experiment passes validate.
func TestShippedExperimentsRecordEveryNameTheirArtifactsUse(t *testing.T) {
	files, _ := filepath.Glob("../experiments/*.yaml")
	if len(files) == 0 {
		t.Fatal("no experiments")
	}
	for _, f := range files {
		if _, err := compileFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// oneProblem compiles body and returns its single positioned problem.
func oneProblem(t *testing.T, body string) *spec.Error {
	t.Helper()
	_, err := compileFile(writeSpec(t, body))
	var list spec.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one positioned problem, got %v", err)
	}
	return list[0]
}

// A chart's series: names columns like x and y do, so a misspelt one is
// reported at its key with the closest recorded name.
func TestValidateReportsAChartSeriesNoStepRecordsAtItsKey(t *testing.T) {
	e := oneProblem(t, `version: runexp/v1
name: series
studies:
  - name: s
    sweep: {axes: {util: [0.8, 0.9], conc: [1, 4]}}
    steps:
      - {id: probe, type: exec, with: {command: ["true"]}}
    artifacts:
      - path: chart.svg
        format: chart
        chart: {x: conc, y: [probe_exit], series: [utl], labels: {probe_exit: "exit status"}}
`)
	if e.Path != "studies[0].artifacts[0].chart.series[0]" || !strings.Contains(e.Msg, `did you mean "util"`) {
		t.Errorf("problem %v, want at chart.series[0] suggesting util", e)
	}
}

// A pareto chart's settings: name columns like x and y do, so a misspelt
// one is reported at its key with the closest recorded name.
func TestValidateReportsAParetoChartSettingNoStepRecordsAtItsKey(t *testing.T) {
	e := oneProblem(t, `version: runexp/v1
name: pareto
studies:
  - name: s
    sweep: {axes: {util: [0.8, 0.9], conc: [1, 4]}}
    steps:
      - {id: probe, type: exec, with: {command: ["true"]}}
    artifacts:
      - path: pareto.svg
        format: chart
        chart: {kind: pareto, x: conc, y: [probe_exit], settings: [utl, conc]}
`)
	if e.Path != "studies[0].artifacts[0].chart.settings[0]" || !strings.Contains(e.Msg, `did you mean "util"`) || e.Pos.Line != 11 {
		t.Errorf("problem %v at line %d, want at chart.settings[0] line 11 suggesting util", e, e.Pos.Line)
	}
}
