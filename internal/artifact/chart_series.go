package artifact

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// encodeChart renders a chart job, a line chart's series defaulting to the
// sweep axes other than x that vary among the rows: joining points of
// different utilisations by one line would zig-zag.
func encodeChart(j Job) ([]byte, error) {
	a := j.Artifact
	rows := j.Rows
	if c := a.Chart; c != nil && c.EffectiveKind() == spec.ChartLine {
		if j.Repeated {
			// One marker per point at its mean, with error bars, rather
			// than a line zig-zagging through the repetitions.
			rows, _ = foldRepeats(rows, j.Columns, j.Axes)
		}
		if c.Series == nil {
			cc := *c
			cc.Series = defaultSeries(c, j.Axes, rows)
			a.Chart = &cc
		}
	}
	return renderChart(a, rows)
}

// defaultSeries lists the axes other than x (and the plotted columns)
// that take more than one value among rows.
func defaultSeries(c *spec.Chart, axes []string, rows []results.Row) []string {
	var out []string
	for _, ax := range axes {
		if ax == c.X || slices.Contains(c.Y, ax) {
			continue
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if v, ok := r[ax]; ok {
				seen[cell(v)] = true
			}
		}
		if len(seen) > 1 {
			out = append(out, ax)
		}
	}
	return out
}

// seriesRows is one line of a line chart: the rows sharing the series
// columns' values, named by them ("gpu_memory_utilization=0.8").
type seriesRows struct {
	name string
	rows []results.Row
}

// splitSeries groups rows by the values of the series columns, in order of
// first appearance (the sweep's order); no columns give one unnamed group.
func splitSeries(rows []results.Row, columns []string) []seriesRows {
	if len(columns) == 0 {
		return []seriesRows{{rows: rows}}
	}
	var out []seriesRows
	index := map[string]int{}
	for _, r := range rows {
		parts := make([]string, len(columns))
		for i, c := range columns {
			parts[i] = c + "=" + cell(r[c])
		}
		name := strings.Join(parts, ", ")
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, seriesRows{name: name})
		}
		out[i].rows = append(out[i].rows, r)
	}
	return out
}

// maxDataTicks is the most distinct values an axis may have to be ticked
// at the values themselves (512, 1024, 2048, 4096 rather than 0, 1000, …).
const maxDataTicks = 8

// dataTicks returns ticks at the distinct values of vs when there are few
// and no two are so close that their labels would overlap; nil otherwise.
func dataTicks(vs []float64) plot.ConstantTicks {
	distinct := slices.Compact(slices.Sorted(slices.Values(vs)))
	if len(distinct) < 2 || len(distinct) > maxDataTicks {
		return nil
	}
	span := distinct[len(distinct)-1] - distinct[0]
	for i := 1; i < len(distinct); i++ {
		if distinct[i]-distinct[i-1] < span/12 {
			return nil
		}
	}
	ticks := make(plot.ConstantTicks, len(distinct))
	for i, v := range distinct {
		ticks[i] = plot.Tick{Value: v, Label: cell(v)}
	}
	return ticks
}

// titleWidth is the width a title is wrapped to on a canvas of width w. An
// SVG names its fonts (Liberation) without carrying them: a viewer without
// them substitutes a font up to a quarter wider, so text is laid out with
// that margin (embedding the fonts would add 0.5 MB to every chart).
func titleWidth(w vg.Length) vg.Length { return w*3/4 - 10*vg.Millimeter }

// legendHeadroom raises the y axis' top so that a legend of n entries in
// the top right corner sits above the data rather than on it.
func legendHeadroom(p *plot.Plot, n int) {
	const panel = 180.0 // points of data area in an 8 cm panel, roughly
	f := min(0.5, (float64(n)*14+12)/panel)
	p.Y.Max += (p.Y.Max - p.Y.Min) * f / (1 - f)
}

// wrapTitle breaks a title into lines no wider than width in its own font,
// so that no title is cut at the canvas edge.
func wrapTitle(p *plot.Plot, width vg.Length) {
	sty := p.Title.TextStyle
	if p.Title.Text == "" || sty.Width(p.Title.Text) <= width {
		return
	}
	var lines []string
	line := ""
	for _, w := range strings.Fields(p.Title.Text) {
		if line != "" && sty.Width(line+" "+w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		line = strings.TrimSpace(line + " " + w)
	}
	p.Title.Text = strings.Join(append(lines, line), "\n")
}

// finite reports whether v can be plotted.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// plainTicks is gonum's default ticker with labels written without
// trailing zeros ("75000", not "75000.00").
type plainTicks struct{ plot.Ticker }

var _ plot.Ticker = plainTicks{}

func (t plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := t.Ticker.Ticks(lo, hi)
	for i, tk := range ticks {
		if v, err := strconv.ParseFloat(tk.Label, 64); err == nil && tk.Label != "" {
			ticks[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ticks
}
