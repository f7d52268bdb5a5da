package compare_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/compare"
	"github.com/runexp/runexp/internal/load"
)

// modeRun is one point of a load mode "concurrent" run n times on one
// server: the pooled throughput, and the mean over the repetitions with the
// 95 % Student-t interval that load.MeanCI95 writes for a spread sd.
func modeRun(key string, pooled, mean, sd float64, n int) compare.Point {
	half := load.StudentT975(n-1) * sd / math.Sqrt(float64(n))
	return pt("batching", key, map[string]any{
		"concurrent_n":                           float64(n), // a number from JSON
		"concurrent_output_throughput":           pooled,
		"concurrent_output_throughput_mean":      mean,
		"concurrent_output_throughput_ci95_low":  mean - half,
		"concurrent_output_throughput_ci95_high": mean + half,
		"concurrent_p99_ttft_ms":                 pooled / 10, // no repeat statistics
	})
}

const oneServerNote = "n counts a mode's repetitions on one server: within-server noise, not server-to-server"

// A mode run n times on one server is a sample: mean, n, and the variance
// recovered from its interval; Welch runs on those summaries.
func TestModeRepetitionsAreASampleWithinOneServer(t *testing.T) {
	// base: mean 100, sd 10, n 5; new: mean 120, sd 20, n 4. By hand:
	// va = 10²/5 = 20, vb = 20²/4 = 100, t = 20/√120 = 1.8257,
	// df = 120² / (20²/4 + 100²/3) = 14400/3433.33 = 4.1942 < t₀.₉₇₅(4) = 2.776:
	// a +20 % change inside this noise is no finding.
	base := []compare.Point{modeRun("", 90, 100, 10, 5)}
	next := []compare.Point{modeRun("", 130, 120, 20, 4)}
	res := compare.Compare(base, next, compare.Options{Threshold: 0.05, Metrics: []compare.Metric{{Name: "concurrent_output_throughput", Higher: true}}})
	r := rowOf(t, res, "concurrent_output_throughput")
	if r.Base != 100 || r.New != 120 || r.BaseN != 5 || r.NewN != 4 {
		t.Errorf("row %+v: want the modes' means 100 → 120 (not the pooled 90, 130), n 5 and 4", r)
	}
	if r.Welch == nil || math.Abs(r.Welch.T-1.8257) > 1e-4 || math.Abs(r.Welch.DF-4.1942) > 1e-4 || r.Welch.Significant {
		t.Fatalf("Welch %+v, want t=1.8257 df=4.1942, not significant", r.Welch)
	}
	if r.Verdict != compare.WithinNoise || r.Note != oneServerNote {
		t.Errorf("verdict %q note %q, want within noise and the one-server note", r.Verdict, r.Note)
	}
	if half := 2.776 * 10 / math.Sqrt(5); r.BaseCI == nil || math.Abs(r.BaseCI.High-(100+half)) > 1e-9 || math.Abs(r.BaseCI.Low-(100-half)) > 1e-9 {
		t.Errorf("base interval %+v, want 100 ± %g", r.BaseCI, half)
	}
	var buf bytes.Buffer
	if err := res.Write(&buf, "text", "a", "b"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"100 ± 12.41 (n=5)", "120 ± 31.82 (n=4)", "within noise (Welch t=1.83, df=4.2; " + oneServerNote + ")"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}

	// The same means with tight repetitions (sd 2 and 3): t = 20/√(4/5 + 9/4)
	// = 11.452, df = 3.05² / (0.8²/4 + 2.25²/3) = 5.035: an improvement.
	tight := compare.Compare([]compare.Point{modeRun("", 90, 100, 2, 5)}, []compare.Point{modeRun("", 130, 120, 3, 4)}, compare.Options{Threshold: 0.05})
	r = rowOf(t, tight, "concurrent_output_throughput")
	if r.Welch == nil || math.Abs(r.Welch.T-11.452) > 1e-3 || math.Abs(r.Welch.DF-5.035) > 1e-3 || r.Verdict != compare.Improved {
		t.Errorf("tight repetitions: %+v %+v, want improved with t=11.452 df=5.035", r, r.Welch)
	}
}

// With a sweep's repetitions (a server each), each point's mode mean is its
// one value: the sample is across servers, and the one-server note is gone.
func TestSweepRepetitionsOfARepeatedModeCompareEachServersMean(t *testing.T) {
	var base, next []compare.Point
	for i, m := range []float64{100, 101, 102} {
		// Pooled values far from the means, and wide inner intervals: neither may enter.
		base = append(base, modeRun("k=1", 1000+float64(i)*300, m, 50, 3))
		next = append(next, modeRun("k=1", 10+float64(i)*300, m+20, 50, 3))
	}
	r := rowOf(t, compare.Compare(base, next, compare.Options{Threshold: 0.05}), "concurrent_output_throughput")
	// 100, 101, 102 vs 120, 121, 122: s = 1 on both, t = 20/√(2/3) = 24.49, df = 4.
	if r.Base != 101 || r.New != 121 || r.BaseN != 3 || r.NewN != 3 || r.Note != "" {
		t.Errorf("row %+v: want the servers' means 101 → 121, n 3 each, no note", r)
	}
	if r.Welch == nil || math.Abs(r.Welch.T-24.495) > 1e-3 || r.Welch.DF != 4 || r.Verdict != compare.Improved {
		t.Errorf("Welch %+v verdict %q, want t=24.495 df=4, improved", r.Welch, r.Verdict)
	}
	if half := 4.303 / math.Sqrt(3); r.BaseCI == nil || math.Abs(r.BaseCI.High-(101+half)) > 1e-9 {
		t.Errorf("base interval %+v, want 101 ± %g (over the servers, not a mode's)", r.BaseCI, half)
	}
}

// A repeated mode against a run without repeats has no test: the threshold
// judges, and the note says both that and where the n comes from.
func TestModeRepetitionsAgainstOneSampleUseTheThresholdAlone(t *testing.T) {
	once := []compare.Point{pt("batching", "", map[string]any{"concurrent_output_throughput": 100.0})}
	reps := []compare.Point{modeRun("", 79, 80, 1, 5)}
	r := rowOf(t, compare.Compare(once, reps, compare.Options{Threshold: 0.05}), "concurrent_output_throughput")
	if r.Welch != nil || r.Verdict != compare.Regressed || r.BaseN != 1 || r.NewN != 5 || r.New != 80 || r.BaseCI != nil || r.NewCI == nil {
		t.Fatalf("row %+v, want a regression 100 → 80 by the threshold alone, n 1/5", r)
	}
	if want := "one base sample: no test, threshold only; new " + oneServerNote; r.Note != want {
		t.Errorf("note %q, want %q", r.Note, want)
	}
	if r := rowOf(t, compare.Compare(reps, once, compare.Options{Threshold: 0.05}), "concurrent_output_throughput"); r.Note != "one new sample: no test, threshold only; base "+oneServerNote {
		t.Errorf("note %q", r.Note)
	}
}

// A metric a repeated mode records no statistics for (p99 TTFT), or one
// whose mode ran once, is one value per point as before.
func TestMetricsWithoutRepeatStatisticsCompareAsBefore(t *testing.T) {
	base := []compare.Point{modeRun("", 100, 100, 10, 5)}
	next := []compare.Point{modeRun("", 120, 100, 10, 5)}
	r := rowOf(t, compare.Compare(base, next, compare.Options{Threshold: 0.05}), "concurrent_p99_ttft_ms")
	if r.Base != 10 || r.New != 12 || r.BaseN != 1 || r.NewN != 1 || r.Welch != nil || r.Note != "" || r.Verdict != compare.Regressed {
		t.Errorf("p99 TTFT 10 → 12 without statistics: %+v, want one value a side, regressed by the threshold", r)
	}
	once := modeRun("", 100, 100, 10, 5)
	once.Values["concurrent_n"] = 1.0
	r = rowOf(t, compare.Compare([]compare.Point{once}, next, compare.Options{Threshold: 0.05}), "concurrent_output_throughput")
	if r.BaseN != 1 || r.Welch != nil || r.NewN != 5 {
		t.Errorf("a mode run once is one sample: %+v", r)
	}
}
