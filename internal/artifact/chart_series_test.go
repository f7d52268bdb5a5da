package artifact

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// svgChart is what a test reads back from a rendered SVG: the data lines
// (paths stroked in a palette colour through three or more points) and
// every text.
type svgChart struct {
	lines []string // the stroke colour of each data line
	texts []string
}

var strokeColour = regexp.MustCompile(`stroke:(#[0-9A-Fa-f]{6})`)

// legendSwatch reports whether path data d is a legend thumbnail: one level
// segment of the legend's thumbnail width, 20 pt.
func legendSwatch(d string) bool {
	var x1, y1, x2, y2 float64
	n, _ := fmt.Sscanf(d, "M%g,%gL%g,%g", &x1, &y1, &x2, &y2)
	return n == 4 && !strings.Contains(d[1:], "M") && strings.Count(d, "L") == 1 && y1 == y2 && math.Abs(x2-x1-20) < 0.01
}

func parseSVG(t *testing.T, data []byte) svgChart {
	t.Helper()
	var out svgChart
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("the chart is not XML: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := func(name string) string {
			for _, a := range el.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch el.Name.Local {
		case "path":
			m := strokeColour.FindStringSubmatch(attr("style"))
			if m == nil || m[1] == "#000000" || m[1] == "#808080" || legendSwatch(attr("d")) {
				continue // axes, grid, ticks, legend swatches
			}
			out.lines = append(out.lines, m[1])
		case "text":
			var s string
			if err := dec.DecodeElement(&s, &el); err != nil {
				t.Fatal(err)
			}
			out.texts = append(out.texts, s)
		}
	}
}

// twoAxisRows is a gpu_memory_utilization × concurrency sweep.
func twoAxisRows() []results.Row {
	var rows []results.Row
	for _, u := range []float64{0.8, 0.9} {
		for _, c := range []int{1, 4, 16} {
			rows = append(rows, results.Row{"gpu_memory_utilization": u, "concurrency": c,
				"gpu_mem_used_mb": u * 80000, "output_throughput": u * float64(c) * 100})
		}
	}
	return rows
}

func renderLines(t *testing.T, c *spec.Chart, axes []string, rows []results.Row) svgChart {
	t.Helper()
	data, err := Encode(Job{Artifact: spec.Artifact{Path: "chart.svg", Format: "chart", Chart: c}, Rows: rows, Axes: axes})
	if err != nil {
		t.Fatal(err)
	}
	return parseSVG(t, data)
}

func TestLineChartOfTwoAxesDrawsOneLinePerValueOfTheOtherAxisWithALegend(t *testing.T) {
	got := renderLines(t, &spec.Chart{X: "concurrency", Y: []string{"output_throughput"}},
		[]string{"gpu_memory_utilization", "concurrency"}, twoAxisRows())
	if len(got.lines) != 2 || got.lines[0] == got.lines[1] {
		t.Errorf("data lines %v, want two of different colours (one per gpu_memory_utilization)", got.lines)
	}
	for _, want := range []string{"gpu_memory_utilization=0.8", "gpu_memory_utilization=0.9"} {
		if !slices.Contains(got.texts, want) {
			t.Errorf("no legend entry %q in %q", want, got.texts)
		}
	}
}

func TestLineChartSeriesGivenOverridesTheDefaultAndEmptyDrawsOneLine(t *testing.T) {
	rows := twoAxisRows()
	axes := []string{"gpu_memory_utilization", "concurrency"}
	// Series by concurrency, x = utilisation: three lines.
	got := renderLines(t, &spec.Chart{X: "gpu_memory_utilization", Y: []string{"output_throughput"}, Series: []string{"concurrency"}}, axes, rows)
	if len(got.lines) != 3 || !slices.Contains(got.texts, "concurrency=16") {
		t.Errorf("series: [concurrency]: lines %v, texts %q", got.lines, got.texts)
	}
	one := renderLines(t, &spec.Chart{X: "concurrency", Y: []string{"output_throughput"}, Series: []string{}}, axes, rows)
	if len(one.lines) != 1 || slices.ContainsFunc(one.texts, func(s string) bool { return strings.Contains(s, "=") }) {
		t.Errorf("series: []: lines %v, texts %q; want one line and no legend", one.lines, one.texts)
	}
}

func TestChartAxisLabelsCarryUnitsAndTicksSitAtFewDataValues(t *testing.T) {
	got := renderLines(t, &spec.Chart{X: "concurrency", Y: []string{"gpu_mem_used_mb", "output_throughput"},
		Labels: map[string]string{"output_throughput": "tokens per second"}}, []string{"gpu_memory_utilization", "concurrency"}, twoAxisRows())
	for _, want := range []string{"GPU memory used (MiB)", "concurrency (requests)", "tokens per second", "1", "4", "16"} {
		if !slices.Contains(got.texts, want) {
			t.Errorf("no text %q in %q", want, got.texts)
		}
	}
	if slices.Contains(got.texts, "output_throughput") {
		t.Error("labels: did not override the output_throughput label")
	}
}

func TestDataTicksOnlyForFewWellSeparatedValues(t *testing.T) {
	if ticks := dataTicks([]float64{512, 1024, 2048, 4096, 512}); len(ticks) != 4 || ticks[0].Label != "512" {
		t.Errorf("ticks %v", ticks)
	}
	if ticks := dataTicks([]float64{1, 2, 4, 8, 16, 32, 64, 128, 256}); ticks != nil {
		t.Errorf("nine values ticked: %v", ticks)
	}
	if ticks := dataTicks([]float64{1, 2, 64}); ticks != nil {
		t.Errorf("labels 1 and 2 would overlap on a 1–64 axis: %v", ticks)
	}
}

func TestLongChartTitleIsWrappedNotClipped(t *testing.T) {
	title := "Phi-3-mini-4k: GPU memory and KV capacity vs max-model-len, every point of the sweep (SIMULATED)"
	got := renderLines(t, &spec.Chart{Title: title, X: "concurrency", Y: []string{"gpu_mem_used_mb"}, Series: []string{}}, nil, twoAxisRows())
	var lines []string
	for _, s := range got.texts {
		if strings.Contains(title, s) && len(s) > 10 {
			lines = append(lines, s)
		}
	}
	if len(lines) < 2 || strings.Join(lines, " ") != title {
		t.Errorf("title lines %q, want the title wrapped onto two or more lines", lines)
	}
}

func TestChartTickLabelsHaveNoTrailingZeros(t *testing.T) {
	// A flat line of a fractional value: gonum alone labels it "75000.00".
	var rows []results.Row
	for _, l := range []int{512, 1024, 2048, 4096} {
		rows = append(rows, results.Row{"max_model_len": l, "gpu_mem_used_mb": 75114.8})
	}
	got := renderLines(t, &spec.Chart{X: "max_model_len", Y: []string{"gpu_mem_used_mb"}}, []string{"max_model_len"}, rows)
	for _, s := range got.texts {
		if strings.HasSuffix(s, ".00") || strings.HasSuffix(s, ".0") {
			t.Errorf("tick label %q", s)
		}
	}
	if !slices.Contains(got.texts, "75000") {
		t.Errorf("no plain tick label 75000 in %q", got.texts)
	}
}
