package artifact

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/spec"
)

// renderExperimentTemplate renders one of experiments/'s templates on data
// and compares it with testdata/<golden>.
func renderExperimentTemplate(t *testing.T, tmpl, golden string, data TemplateData) string {
	t.Helper()
	got, err := Encode(Job{
		Artifact: spec.Artifact{Format: "markdown", Template: tmpl},
		Rows:     data.Rows,
		SpecDir:  filepath.Join("..", "..", "experiments"),
		Data:     func() TemplateData { return data },
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("testdata", golden), got)
	return string(got)
}

// Equal ends of a range print as one value ("75115 MiB", "174400 tokens"),
// the simulated GPU is named, and on the simulator the prediction-vs-engine
// comparison says it is the model checking itself.
func TestKVNotesPrintOneValueWhenEqualAndSayTheSimulatorChecksItself(t *testing.T) {
	var rows []results.Row
	for i, l := range []int{512, 1024, 2048, 4096} {
		rows = append(rows, results.Row{
			"point": i, "status": "ok", "max_model_len": l, "gpu_mem_used_mb": 75115.0,
			"kv_cache_tokens": 174400, "max_concurrency": 174400 / float64(l),
			"predicted_kv_tokens": 174400, "predicted_max_concurrency": 174400 / float64(l),
			"gpu_name": "NVIDIA L4 (simulated)",
		})
	}
	notes := renderExperimentTemplate(t, "day007-kv-notes.md.tmpl", "day007-kv-notes-sim.md", TemplateData{
		Experiment: "day007", Rows: rows, Points: rows,
		Vars: map[string]any{"engine": "sim", "gpu_memory_utilization": 0.92},
	})
	for _, bad := range []string{"between 75115 and 75115", "174400–174400"} {
		if strings.Contains(notes, bad) {
			t.Errorf("notes print the range %q", bad)
		}
	}
	for _, want := range []string{"NVIDIA L4 (simulated)", "the model checking itself"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q", want)
		}
	}
}

// A mode whose telemetry could not be measured prints n/a, never -1.
func TestBatchingNotesPrintUnmeasuredTelemetryAsNA(t *testing.T) {
	summary := []results.Row{
		{"mode": "sequential", "completed": 32, "failed": 0, "total_output_tokens": 1024, "duration": 5.1, "output_throughput": 200.8,
			"request_throughput": 6.27, "median_ttft_ms": 10.2, "p99_ttft_ms": 12.5, "median_e2el_ms": 159.0, "max_concurrent_requests": 1},
		{"mode": "concurrent", "completed": 32, "failed": 0, "total_output_tokens": 1024, "duration": 0.17, "output_throughput": 6023.5,
			"request_throughput": 188.2, "median_ttft_ms": 25.0, "p99_ttft_ms": 30.1, "median_e2el_ms": 165.0, "max_concurrent_requests": 32},
	}
	point := results.Row{"point": 0, "status": "ok", "telemetry_samples": 30, "telemetry_interval_ms": 200,
		"sequential_gpu_util_mean": 12.5, "sequential_gpu_util_max": 20.0, "sequential_power_mean_w": 150.0,
		"concurrent_gpu_util_mean": results.Finite(math.NaN()), "concurrent_gpu_util_max": nil, "concurrent_power_mean_w": nil}
	notes := renderExperimentTemplate(t, "day007-batching.md.tmpl", "day007-batching-unmeasured.md", TemplateData{
		Experiment: "day007", Rows: []results.Row{point}, Points: []results.Row{point},
		Tables: map[string][]results.Row{"load.summary": summary},
		Vars:   map[string]any{"engine": "sim"},
	})
	if strings.Contains(notes, "-1") {
		t.Errorf("notes hold a -1 sentinel")
	}
	if !strings.Contains(notes, "concurrent mean n/a (max n/a)") || !strings.Contains(notes, "vs n/a.") {
		t.Errorf("unmeasured telemetry not printed as n/a")
	}
}

func TestValueWithUnitAndSpan(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{withUnit(45.04, 0, "%"), "45%"},
		{withUnit(151.0, 0, "W"), "151 W"},
		{withUnit(nil, 0, "W"), "n/a"},
		{withUnit(math.NaN(), 1, "%"), "n/a"},
		{span([]any{174400, 174400.0}, 0), "174400"},
		{span([]any{170064, nil, 174400}, 0), "170064–174400"},
		{span(nil, 0), "n/a"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
