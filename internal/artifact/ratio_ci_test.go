package artifact

import (
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/results"
)

// repeatedRows are two load.summary rows of modes repeated 5 times whose
// means (10 s and 2 s) each have a standard error of 2 % of the mean: the
// log ratio's se is 0.02·√2, Welch's df is 8 (t = 2.306), so the speedup
// 5 has the interval 5·exp(∓2.306·0.0283) = 4.68–5.34.
func repeatedRows() (seq, con results.Row) {
	const t4 = 2.776 // Student t, 0.975, 4 degrees of freedom
	seq = results.Row{"mode": "sequential", "n": 5, "duration": 60.0,
		"duration_mean": 10.0, "duration_ci95_low": 10 - t4*0.2, "duration_ci95_high": 10 + t4*0.2}
	con = results.Row{"mode": "concurrent", "n": 5, "duration": 12.0,
		"duration_mean": 2.0, "duration_ci95_low": 2 - t4*0.04, "duration_ci95_high": 2 + t4*0.04}
	return seq, con
}

func TestRatioOfRepeatedModesQuotesTheRatioOfMeansWithIts95CI(t *testing.T) {
	seq, con := repeatedRows()
	if got, want := ratioCI(seq, con, "duration", 1, "×"), "5.0× (95 % CI 4.7–5.3, n=5)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	con["n"] = 3
	if got := ratioCI(seq, con, "duration", 1, "×"); !strings.HasSuffix(got, "n=5 and 3)") {
		t.Errorf("unequal repetitions: got %q", got)
	}
}

func TestRatioOfModesRunOnceIsThePlainRatio(t *testing.T) {
	seq := results.Row{"mode": "sequential", "duration": 5.1}
	con := results.Row{"mode": "concurrent", "duration": 0.17}
	if got, want := ratioCI(seq, con, "duration", 1, "×"), "30×"; got != want {
		t.Errorf("got %q, want %q (as ratio prints it)", got, want)
	}
	if got := ratioCI(seq, results.Row{}, "duration", 1, "×"); got != "n/a×" {
		t.Errorf("missing denominator: got %q", got)
	}
}

func TestBatchingNotesQuoteTheSpeedupWithItsCIWhenTheModesAreRepeated(t *testing.T) {
	seq, con := repeatedRows()
	for _, r := range []results.Row{seq, con} {
		r["completed"], r["failed"], r["total_output_tokens"] = 160, 0, 5120
		r["output_throughput"], r["output_throughput_mean"] = 85.3, 102.4
		r["request_throughput"], r["median_ttft_ms"], r["p99_ttft_ms"], r["median_e2el_ms"] = 2.67, 10.2, 12.5, 159.0
		r["max_concurrent_requests"] = 1
	}
	con["request_throughput"], con["median_ttft_ms"], con["p99_ttft_ms"], con["median_e2el_ms"] = 13.3, 25.0, 30.1, 165.0
	con["max_concurrent_requests"] = 32
	con["output_throughput_mean"] = 512.0
	notes := renderExperimentTemplate(t, "day007-batching.md.tmpl", "day007-batching-repeated.md", TemplateData{
		Experiment: "day007", Rows: []results.Row{{"point": 0, "status": "ok"}}, Points: []results.Row{{"point": 0, "status": "ok"}},
		Tables: map[string][]results.Row{"load.summary": {seq, con}},
		Vars:   map[string]any{"engine": "sim"},
	})
	for _, want := range []string{"**5.0× (95 % CI 4.7–5.3, n=5) faster**", "sequential_s = 10, concurrent_s = 2 (means over 5 repetitions)",
		"(102 → 512 output tokens/s)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}
