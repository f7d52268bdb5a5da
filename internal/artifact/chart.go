package artifact

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// renderChart draws a chart artifact by its kind: line charts (x against
// each y column, one panel per y so that different units each get their own
// scale; one line per value of the series columns, with a legend), a box
// plot (the distribution of value per group) or a Pareto chart (y against
// x, one marker per row, the frontier labelled with the settings columns). Axes are labelled with their units
// (labels.go) and titles wrapped to the canvas. The format follows the
// path's extension: .svg or .png.
func renderChart(a spec.Artifact, rows []results.Row) ([]byte, error) {
	c := a.Chart
	var plots []*plot.Plot
	var err error
	switch c.EffectiveKind() {
	case spec.ChartBox:
		var p *plot.Plot
		p, err = boxPlot(c, rows)
		plots = []*plot.Plot{p}
	case spec.ChartPareto:
		var p *plot.Plot
		p, err = paretoPlot(c, c.Settings, rows)
		plots = []*plot.Plot{p}
	default:
		plots, err = linePlots(c, rows)
	}
	if err != nil {
		return nil, err
	}
	width := 16 * vg.Centimeter
	height := vg.Length(len(plots)) * 8 * vg.Centimeter
	if c.EffectiveKind() == spec.ChartPareto {
		height = paretoHeight
	}
	for _, p := range plots {
		wrapTitle(p, titleWidth(width))
	}
	ext := strings.ToLower(filepath.Ext(a.Path))
	var buf bytes.Buffer
	switch ext {
	case ".svg":
		cv := vgsvg.New(width, height)
		drawPanels(plots, draw.New(cv))
		if _, err := cv.WriteTo(&buf); err != nil {
			return nil, err
		}
	case ".png":
		cv := vgimg.PngCanvas{Canvas: vgimg.New(width, height)}
		drawPanels(plots, draw.New(cv))
		if _, err := cv.WriteTo(&buf); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("chart path must end in .svg or .png, got %q", a.Path)
	}
	return buf.Bytes(), nil
}

func drawPanels(plots []*plot.Plot, dc draw.Canvas) {
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
}

func linePlots(c *spec.Chart, rows []results.Row) ([]*plot.Plot, error) {
	series := splitSeries(rows, c.Series)
	var out []*plot.Plot
	for i, y := range c.Y {
		p := plot.New()
		if i == 0 {
			p.Title.Text = c.Title
		}
		p.X.Label.Text = axisLabel(c, c.X)
		if c.XLabel != "" {
			p.X.Label.Text = c.XLabel
		}
		p.Y.Label.Text = axisLabel(c, y)
		if c.YLabel != "" && len(c.Y) == 1 {
			p.Y.Label.Text = c.YLabel
		}
		p.Add(plotter.NewGrid())
		p.X.Tick.Marker = plainTicks{p.X.Tick.Marker}
		p.Y.Tick.Marker = plainTicks{p.Y.Tick.Marker}
		var xs []float64
		for k, s := range series {
			var pts plotter.XYs
			var bars intervals
			for _, r := range s.rows {
				xv, yv := num(r[c.X]), num(r[y])
				if !finite(xv) || !finite(yv) {
					continue // a failed point has no value: leave a gap, not a zero
				}
				pts = append(pts, plotter.XY{X: xv, Y: yv})
				xs = append(xs, xv)
				// A row folded from repetitions carries its mean's interval.
				if lo, hi := num(r[y+"_ci95_low"]), num(r[y+"_ci95_high"]); finite(lo) && finite(hi) {
					bars.XYs = append(bars.XYs, plotter.XY{X: xv, Y: yv})
					bars.errs = append(bars.errs, struct{ Low, High float64 }{yv - lo, hi - yv})
				}
			}
			if len(pts) == 0 {
				continue
			}
			sort.SliceStable(pts, func(a, b int) bool { return pts[a].X < pts[b].X })
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			colour := palette(i) // one line per panel keeps the panel's colour
			if len(series) > 1 {
				colour = palette(k)
				if k >= len(colors) { // past the palette, dashes tell lines apart
					line.Dashes = []vg.Length{vg.Points(4 + 2*float64(k/len(colors))), vg.Points(2)}
				}
			}
			line.Color, points.Color = colour, colour
			points.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			if len(bars.XYs) > 0 {
				eb, err := plotter.NewYErrorBars(bars)
				if err != nil {
					return nil, err
				}
				eb.Color = colour
				p.Add(eb)
			}
			if s.name != "" {
				p.Legend.Add(s.name, line, points)
			}
		}
		if len(xs) > 0 {
			p.Y.Min = math.Min(0, p.Y.Min)
			if ticks := dataTicks(xs); ticks != nil {
				p.X.Tick.Marker = ticks
			}
			if len(series) > 1 {
				p.Legend.Top = true
				legendHeadroom(p, len(series))
			}
		} else {
			p.Title.Text += fmt.Sprintf(" (no %s values)", y)
		}
		out = append(out, p)
	}
	return out, nil
}

// intervals are error bars: each point's distance down and up to the ends
// of its 95 % interval.
type intervals struct {
	plotter.XYs
	errs plotter.YErrors
}

func (iv intervals) YError(i int) (float64, float64) { return iv.errs.YError(i) }

func boxPlot(c *spec.Chart, rows []results.Row) (*plot.Plot, error) {
	groups := map[string]plotter.Values{}
	var order []string
	for _, r := range rows {
		v := num(r[c.Value])
		if math.IsNaN(v) {
			continue
		}
		g := fmt.Sprint(r[c.Group])
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], v)
	}
	p := plot.New()
	p.Title.Text = c.Title
	p.Y.Label.Text = axisLabel(c, c.Value)
	if c.YLabel != "" {
		p.Y.Label.Text = c.YLabel
	}
	p.X.Label.Text = axisLabel(c, c.Group)
	if c.XLabel != "" {
		p.X.Label.Text = c.XLabel
	}
	p.Add(plotter.NewGrid())
	var names []string
	for i, g := range order {
		b, err := plotter.NewBoxPlot(vg.Points(40), float64(i), groups[g])
		if err != nil {
			return nil, err
		}
		b.FillColor = palette(i)
		p.Add(b)
		names = append(names, fmt.Sprintf("%s (n=%d)", g, len(groups[g])))
	}
	if len(names) > 0 {
		p.NominalX(names...)
	}
	return p, nil
}
