package spec

import (
	"strings"
	"testing"
)

// checkChart decodes artifacts and checks them, returning every problem.
func checkChart(t *testing.T, src string) ErrorList {
	t.Helper()
	d := &Decoder{File: "f.yaml"}
	var as []Artifact
	errs := d.Decode(node(t, src), "artifacts", &as)
	return append(errs, CheckArtifacts(d, "artifacts", as)...)
}

func TestChartKindDefaultsToBoxWithAValueElseLine(t *testing.T) {
	for _, c := range []struct {
		chart Chart
		want  ChartKind
	}{
		{Chart{X: "a", Y: []string{"b"}}, ChartLine},
		{Chart{Value: "ttft_ms", Group: "mode"}, ChartBox},
		{Chart{Kind: ChartPareto, X: "a", Y: []string{"b"}}, ChartPareto},
	} {
		if got := c.chart.EffectiveKind(); got != c.want {
			t.Errorf("%+v: kind %q, want %q", c.chart, got, c.want)
		}
	}
	if errs := checkChart(t, "[{path: a.svg, format: chart, chart: {x: a, y: [b]}}, {path: b.svg, format: chart, chart: {value: v, group: g}}]"); errs != nil {
		t.Errorf("charts without a kind rejected: %v", errs)
	}
}

func TestChartKindOutsideTheVocabularyIsReportedAtItsKeyWithTheClosest(t *testing.T) {
	errs := checkChart(t, "- path: a.svg\n  format: chart\n  chart:\n    kind: paretto\n    x: a\n    y: [b]\n")
	if len(errs) != 1 {
		t.Fatalf("got %v, want one problem", errs)
	}
	e := errs[0]
	if e.Pos.Line != 4 || !strings.Contains(e.Error(), "chart.kind") || !strings.Contains(e.Error(), `"pareto"`) {
		t.Errorf("got %v at %d:%d, want chart.kind at line 4 suggesting \"pareto\"", e, e.Pos.Line, e.Pos.Col)
	}
}

func TestParetoChartNeedsXAndExactlyOneYAndTakesNoBoxOrSeriesKeys(t *testing.T) {
	errs := checkChart(t, "- path: a.svg\n  format: chart\n  chart:\n    kind: pareto\n    y: [b, c]\n    series: [d]\n")
	want := []struct {
		path string
		line int
	}{{"chart.x", 4}, {"chart.y", 5}, {"chart.series", 6}}
	if len(errs) != len(want) {
		t.Fatalf("got %v, want %d problems", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Path, w.path) || errs[i].Pos.Line != w.line {
			t.Errorf("problem %d: %v at line %d, want %s at line %d", i, errs[i], errs[i].Pos.Line, w.path, w.line)
		}
	}
	if errs := checkChart(t, "[{path: p.svg, format: chart, chart: {kind: pareto, x: u, y: [g], settings: [max_num_seqs]}}]"); errs != nil {
		t.Errorf("a complete pareto chart rejected: %v", errs)
	}
}

func TestChartSettingsOnlyForParetoAndTypedAsAList(t *testing.T) {
	errs := checkChart(t, "- path: a.svg\n  format: chart\n  chart:\n    x: a\n    y: [b]\n    settings: [c]\n")
	if len(errs) != 1 || !strings.Contains(errs[0].Path, "chart.settings") || errs[0].Pos.Line != 6 {
		t.Errorf("settings on a line chart: got %v, want one problem at chart.settings line 6", errs)
	}
	errs = checkChart(t, "- path: a.svg\n  format: chart\n  chart:\n    kind: pareto\n    x: a\n    y: [b]\n    settings: {c: 1}\n")
	if len(errs) == 0 || errs[0].Pos.Line != 7 {
		t.Errorf("settings as a mapping: got %v, want a problem at line 7", errs)
	}
}
