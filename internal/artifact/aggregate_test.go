package artifact

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// TestFoldRepeatsGroupsEachPointsRowsAndSkipsFailedRepetitions: a table
// with two modes per point folds into one row per (point, mode), its
// numbers' means and Student-t intervals over the ok repetitions; a failed
// repetition is left out of the statistics and named in error.
func TestFoldRepeatsGroupsEachPointsRowsAndSkipsFailedRepetitions(t *testing.T) {
	var rows []results.Row
	for rep, x := range []float64{10, 14, 12} {
		for _, mode := range []string{"seq", "con"} {
			rows = append(rows, results.Row{"point": string(rune('a' + rep)), "len": 512, "repeat": rep + 1, "mode": mode, "tput": x})
		}
	}
	pointRows := []results.Row{
		{"point": "000", "len": 512, "repeat": 1, "tput": 1.0, "status": "ok", "error": ""},
		{"point": "001", "len": 512, "repeat": 2, "tput": nil, "status": "failed", "error": "boom"},
		{"point": "002", "len": 512, "repeat": 3, "tput": 3.0, "status": "ok", "error": ""},
	}
	folded, cols := foldRepeats(rows, []string{"point", "len", "repeat", "mode", "tput"}, []string{"len"})
	if len(folded) != 2 || folded[0]["mode"] != "seq" || folded[1]["mode"] != "con" {
		t.Fatalf("folded rows %v, want one per mode in order", folded)
	}
	// 10, 14, 12: mean 12, s = 2, t(0.975, 2) = 4.303: half-width 4.303·2/√3.
	half := 4.303 * 2 / math.Sqrt(3)
	r := folded[0]
	if r["n"] != 3 || r["tput_mean"] != 12.0 || math.Abs(r["tput_ci95_low"].(float64)-(12-half)) > 1e-9 || math.Abs(r["tput_ci95_high"].(float64)-(12+half)) > 1e-9 {
		t.Errorf("folded row %v, want n 3, mean 12 ± %g", r, half)
	}
	if _, has := r["repeat"]; has {
		t.Errorf("folded row keeps the repeat column: %v", r)
	}
	want := []string{"point", "len", "n", "mode", "tput", "tput_mean", "tput_ci95_low", "tput_ci95_high"}
	if len(cols) != len(want) {
		t.Fatalf("columns %v, want %v", cols, want)
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Errorf("columns %v, want %v", cols, want)
			break
		}
	}
	pts, _ := foldRepeats(pointRows, []string{"point", "len", "repeat", "tput", "status", "error"}, []string{"len"})
	p := pts[0]
	if p["n"] != 2 || p["tput"] != 2.0 || p["status"] != "ok" || p["error"] != "1 of 3 repetitions failed: repeat 2: failed boom" {
		t.Errorf("folded point %v, want n 2, mean 2 and the failure named", p)
	}
}

// TestLineChartOverRepetitionsDrawsMeansWithIntervals: a line chart of a
// repeated sweep folds each point's repetitions (no series per repetition)
// and draws the intervals: the picture differs from the means alone.
func TestLineChartOverRepetitionsDrawsMeansWithIntervals(t *testing.T) {
	var rows []results.Row
	for i, y := range []float64{10, 14, 12, 20, 26, 23} {
		rows = append(rows, results.Row{"point": fmt.Sprintf("%03d", i), "len": 512 * (1 + i/3), "repeat": 1 + i%3, "tput": y, "status": "ok"})
	}
	job := func(rows []results.Row, repeated bool) Job {
		return Job{Artifact: spec.Artifact{Path: "c.svg", Format: spec.FormatChart, Chart: &spec.Chart{X: "len", Y: []string{"tput"}}},
			Rows: rows, Columns: []string{"point", "len", "repeat", "tput", "status"}, Axes: []string{"len"}, Repeated: repeated}
	}
	withBars, err := Encode(job(rows, true))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(withBars), "repeat=") {
		t.Error("the chart has a series per repetition")
	}
	means, _ := foldRepeats(rows, job(rows, true).Columns, []string{"len"})
	for _, r := range means {
		delete(r, "tput_ci95_low")
		delete(r, "tput_ci95_high")
	}
	plain, err := Encode(job(means, false))
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) == string(withBars) {
		t.Error("the chart of repetitions draws no intervals: it equals the chart of the means alone")
	}
}

// TestFoldRepeatsOfARepeatedModeIntervalsTheModesMeans: a sweep repeat of
// a point whose mode repeats too folds the mode's per-server means as the
// sample: <m>_mean is their mean and <m>_ci95_low/high their Student-t
// interval (never a mean of the inner interval ends); the mode's own n is
// carried as mode_n, and n counts the sweep's repetitions.
func TestFoldRepeatsOfARepeatedModeIntervalsTheModesMeans(t *testing.T) {
	var rows []results.Row
	// Per server: the mode's mean and a narrow inner interval around it.
	for rep, m := range []float64{10, 14, 12} {
		rows = append(rows, results.Row{"point": fmt.Sprintf("%03d", rep), "len": 512, "repeat": rep + 1, "n": 5,
			"tput": m + 0.5, "tput_mean": m, "tput_ci95_low": m - 0.1, "tput_ci95_high": m + 0.1})
	}
	cols := []string{"point", "len", "repeat", "n", "tput", "tput_mean", "tput_ci95_low", "tput_ci95_high"}
	folded, got := foldRepeats(rows, cols, []string{"len"})
	if len(folded) != 1 {
		t.Fatalf("folded %v, want one row", folded)
	}
	r := folded[0]
	half := 4.303 * 2 / math.Sqrt(3) // 10, 14, 12: s = 2, t(0.975, 2) = 4.303
	if r["n"] != 3 || r[ModeN] != 5 || r["tput_mean"] != 12.0 || r["tput"] != 12.5 {
		t.Errorf("folded row %v, want n 3, mode_n 5, tput_mean 12, tput 12.5", r)
	}
	if lo, hi := r["tput_ci95_low"].(float64), r["tput_ci95_high"].(float64); math.Abs(lo-(12-half)) > 1e-9 || math.Abs(hi-(12+half)) > 1e-9 {
		t.Errorf("interval %g–%g, want 12 ± %g over the servers' means (the inner ends' means are 11.9–12.1)", lo, hi, half)
	}
	want := []string{"point", "len", "n", ModeN, "tput", "tput_mean", "tput_ci95_low", "tput_ci95_high"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("columns %v, want %v", got, want)
	}
	one, _ := foldRepeats(rows[:1], cols, []string{"len"})
	if _, has := one[0]["tput_ci95_low"]; has || one[0]["tput_mean"] != 10.0 {
		t.Errorf("one repetition %v: want its mean and no interval (the inner one is one server's)", one[0])
	}
}
