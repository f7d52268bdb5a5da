package artifact

import (
	"bytes"
	"testing"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// A spec's kind: pareto reaches paretoPlot: the frontier's markers are
// numbered, the legend giving each number's settings columns, and the axes
// carry their units; without a kind the
// same x and y draw a line chart, which labels nothing.
func TestChartKindParetoFromASpecDrawsTheFrontierLabelledWithTheSettings(t *testing.T) {
	rows := []results.Row{
		{"output_throughput_per_user": 50.0, "output_throughput": 400.0, "max_num_seqs": 64, "max_concurrency": 8},
		{"output_throughput_per_user": 20.0, "output_throughput": 1600.0, "max_num_seqs": 64, "max_concurrency": 64},
		{"output_throughput_per_user": 10.0, "output_throughput": 900.0, "max_num_seqs": 256, "max_concurrency": 256},
	}
	chart := spec.Chart{Kind: spec.ChartPareto, X: "output_throughput_per_user", Y: []string{"output_throughput"},
		Settings: []string{"max_num_seqs", "max_concurrency"}}
	render := func(c spec.Chart) []byte {
		t.Helper()
		data, err := Encode(Job{Artifact: spec.Artifact{Path: "pareto.svg", Format: spec.FormatChart, Chart: &c},
			Rows: rows, Axes: []string{"max_num_seqs"}})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	svg := render(chart)
	// The frontier by increasing x: (20, 1600) numbered 1, (50, 400) numbered 2.
	for _, want := range []string{"1: max_num_seqs=64 max_concurrency=64", "2: max_num_seqs=64 max_concurrency=8",
		"frontier", "output throughput per user (tokens/s)"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("pareto svg lacks %q", want)
		}
	}
	if bytes.Contains(svg, []byte("max_concurrency=256")) {
		t.Error("a dominated point is labelled")
	}
	line := chart
	line.Kind, line.Settings = "", nil
	if bytes.Contains(render(line), []byte("frontier")) {
		t.Error("a chart without kind drew a Pareto frontier")
	}
}
