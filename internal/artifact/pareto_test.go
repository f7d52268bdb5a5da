package artifact

import (
	"bytes"
	"testing"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

func TestParetoFrontierKeepsOnlyUndominatedPointsByIncreasingX(t *testing.T) {
	pts := []ParetoPoint{{10, 100, "a"}, {20, 80, "b"}, {15, 70, "dominated by b"}, {30, 20, "c"}, {5, 90, "dominated by a"}, {30, 10, "dominated by c"}}
	var got []string
	for _, p := range ParetoFrontier(pts) {
		got = append(got, p.Label)
	}
	if want := []string{"a", "b", "c"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("frontier %v, want %v", got, want)
	}
}

func TestParetoPlotLabelsTheFrontierWithTheServerSettings(t *testing.T) {
	rows := []results.Row{
		{"per_user": 50.0, "per_gpu": 400.0, "max_num_seqs": 64, "max_concurrency": 8},
		{"per_user": 20.0, "per_gpu": 1600.0, "max_num_seqs": 64, "max_concurrency": 64},
		{"per_user": 10.0, "per_gpu": 900.0, "max_num_seqs": 256, "max_concurrency": 256},
		{"per_user": nil, "per_gpu": 900.0, "status": "failed"},
	}
	c := &spec.Chart{Title: "pareto", X: "per_user", Y: []string{"per_gpu"}}
	p, err := paretoPlot(c, []string{"max_num_seqs", "max_concurrency"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	cv := vgsvg.New(16*vg.Centimeter, 10*vg.Centimeter)
	p.Draw(drawCanvas(cv))
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"max_num_seqs=64 max_concurrency=8", "max_num_seqs=64 max_concurrency=64", "frontier"} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if bytes.Contains(buf.Bytes(), []byte("max_concurrency=256")) {
		t.Error("a dominated point is labelled")
	}
}

func drawCanvas(cv *vgsvg.Canvas) draw.Canvas { return draw.New(cv) }
