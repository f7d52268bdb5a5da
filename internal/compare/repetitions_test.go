package compare_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/compare"
)

func samplesOf(key string, metric string, xs ...float64) []compare.Point {
	out := make([]compare.Point, len(xs))
	for i, x := range xs {
		out[i] = pt("s", key, map[string]any{metric: x})
	}
	return out
}

// Repetitions on one side only cannot be tested: the row is judged by the
// threshold and says so; the repeated side carries its interval and n.
func TestCompareOfOneSampleWithRepetitionsFallsBackToTheThreshold(t *testing.T) {
	one := samplesOf("k=1", "mean_ttft_ms", 100)
	reps := samplesOf("k=1", "mean_ttft_ms", 140, 180, 220)
	r := rowOf(t, compare.Compare(one, reps, compare.Options{Threshold: 0.05}), "mean_ttft_ms")
	if r.Welch != nil || r.Verdict != compare.Regressed || r.BaseN != 1 || r.NewN != 3 || r.BaseCI != nil || r.NewCI == nil {
		t.Fatalf("row %+v, want a regression by the threshold alone, n 1/3, an interval on the new side", r)
	}
	if !strings.Contains(r.Note, "one base sample") {
		t.Errorf("note %q does not say the base has one sample", r.Note)
	}
	// 140, 180, 220: mean 180, s = 40, t(0.975, 2) = 4.303.
	half := 4.303 * 40 / math.Sqrt(3)
	if math.Abs(r.NewCI.Low-(180-half)) > 1e-9 || math.Abs(r.NewCI.High-(180+half)) > 1e-9 {
		t.Errorf("new interval %+v, want 180 ± %g", *r.NewCI, half)
	}
	var buf bytes.Buffer
	if err := compare.Compare(one, reps, compare.Options{Threshold: 0.05}).Write(&buf, "text", "a", "b"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"180 ± 99.37 (n=3)", "regressed (one base sample: no test, threshold only)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
	if r := rowOf(t, compare.Compare(reps, one, compare.Options{Threshold: 0.05}), "mean_ttft_ms"); !strings.Contains(r.Note, "one new sample") {
		t.Errorf("note %q does not say the new run has one sample", r.Note)
	}
}

// Repetitions without spread on both sides: any difference is significant,
// and the JSON (where an infinite t cannot go) still encodes.
func TestCompareOfRepetitionsWithoutSpreadWritesJSON(t *testing.T) {
	res := compare.Compare(samplesOf("", "output_throughput", 10, 10), samplesOf("", "output_throughput", 5, 5), compare.Options{Threshold: 0.05})
	var buf bytes.Buffer
	if err := res.Write(&buf, "json", "a", "b"); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Rows []struct {
			Verdict string
			Welch   struct {
				T           *float64
				Significant bool
			}
			BaseCI *compare.CI `json:"base_ci95"`
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil || len(out.Rows) != 1 {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	r := out.Rows[0]
	if r.Verdict != compare.Regressed || r.Welch.T != nil || !r.Welch.Significant || r.BaseCI == nil || r.BaseCI.Low != 10 {
		t.Errorf("row %+v, want a significant regression, t null, base interval 10–10\n%s", r, buf.String())
	}
}
