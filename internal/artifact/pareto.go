package artifact

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ParetoPoint is one marker of a Pareto chart: a (server configuration,
// load level) pair at (X, Y), e.g. output tokens/s per user against output
// tokens/s per GPU, as vLLM's plot_pareto draws them.
type ParetoPoint struct {
	X, Y  float64
	Label string
}

// ParetoFrontier returns the points no other point dominates (another with
// X and Y both at least as high, one of them higher), by increasing X: the
// best throughput available at each per-user speed.
func ParetoFrontier(pts []ParetoPoint) []ParetoPoint {
	sorted := append([]ParetoPoint(nil), pts...)
	// By X descending, ties by Y descending: a point is on the frontier
	// when its Y beats every point with a higher X.
	sort.SliceStable(sorted, func(a, b int) bool {
		if sorted[a].X != sorted[b].X {
			return sorted[a].X > sorted[b].X
		}
		return sorted[a].Y > sorted[b].Y
	})
	var front []ParetoPoint
	best := math.Inf(-1)
	for _, p := range sorted {
		if p.Y > best {
			front = append(front, p)
			best = p.Y
		}
	}
	for i, j := 0, len(front)-1; i < j; i, j = i+1, j-1 {
		front[i], front[j] = front[j], front[i]
	}
	return front
}

// paretoPoints reads (c.X, c.Y[0]) from each row with both values, labelled
// by the labels columns ("max_num_seqs=64 max_concurrency=8").
func paretoPoints(c *spec.Chart, labels []string, rows []results.Row) []ParetoPoint {
	var pts []ParetoPoint
	for _, r := range rows {
		x, y := num(r[c.X]), num(r[c.Y[0]])
		if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
			continue
		}
		var parts []string
		for _, l := range labels {
			parts = append(parts, fmt.Sprintf("%s=%v", l, r[l]))
		}
		pts = append(pts, ParetoPoint{X: x, Y: y, Label: strings.Join(parts, " ")})
	}
	return pts
}

// paretoHeight is a Pareto chart's canvas height: taller than a line
// panel, for a legend line per frontier point above the frontier;
// paretoDataHeight is roughly its data area, in points.
const (
	paretoHeight     = 14 * vg.Centimeter
	paretoDataHeight = 300.0
)

// paretoPlot draws every row as a marker and the frontier as a line whose
// points are numbered, the legend giving each number's settings.
func paretoPlot(c *spec.Chart, labels []string, rows []results.Row) (*plot.Plot, error) {
	if c.X == "" || len(c.Y) != 1 {
		return nil, fmt.Errorf("a pareto chart needs x and exactly one y")
	}
	pts := paretoPoints(c, labels, rows)
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text, p.Y.Label.Text = axisLabel(c, c.X), axisLabel(c, c.Y[0])
	p.X.Tick.Marker = plainTicks{p.X.Tick.Marker}
	p.Y.Tick.Marker = plainTicks{p.Y.Tick.Marker}
	if c.XLabel != "" {
		p.X.Label.Text = c.XLabel
	}
	if c.YLabel != "" {
		p.Y.Label.Text = c.YLabel
	}
	p.Add(plotter.NewGrid())
	if len(pts) == 0 {
		p.Title.Text += " (no points)"
		return p, nil
	}
	all := make(plotter.XYs, len(pts))
	for i, q := range pts {
		all[i] = plotter.XY{X: q.X, Y: q.Y}
	}
	scatter, err := plotter.NewScatter(all)
	if err != nil {
		return nil, err
	}
	scatter.Color = palette(1)
	scatter.Shape = draw.CircleGlyph{}
	front := ParetoFrontier(pts)
	fxy := make(plotter.XYs, len(front))
	numbers := make([]string, len(front))
	for i, q := range front {
		fxy[i] = plotter.XY{X: q.X, Y: q.Y}
		numbers[i] = strconv.Itoa(i + 1)
	}
	line, err := plotter.NewLine(fxy)
	if err != nil {
		return nil, err
	}
	line.Color = palette(0)
	// Each frontier marker carries a number and the legend spells out its
	// settings: written beside the markers, settings of neighbouring
	// points overlap.
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: fxy, Labels: numbers})
	if err != nil {
		return nil, err
	}
	for i := range lbl.TextStyle {
		lbl.TextStyle[i].XAlign, lbl.TextStyle[i].YAlign = draw.XLeft, draw.YBottom
	}
	lbl.Offset = vg.Point{X: vg.Points(2), Y: vg.Points(2)}
	p.Add(scatter, line, lbl)
	p.Legend.Add("frontier", line)
	p.Legend.Add("(server settings, load level)", scatter)
	for i, q := range front {
		if q.Label != "" {
			p.Legend.Add(numbers[i] + ": " + q.Label)
		}
	}
	// Above and right of the frontier no point can lie: the legend goes
	// there, with headroom so that it does not cover the top markers.
	p.Legend.Top = true
	f := min(0.6, float64(len(front)+2)*14/paretoDataHeight)
	p.Y.Max += (p.Y.Max - p.Y.Min) * f / (1 - f)
	p.X.Max += (p.X.Max - p.X.Min) * 0.05 // room for the last number
	return p, nil
}
