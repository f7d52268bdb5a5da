package load

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load/loadtest"
)

func TestStudentT975MatchesTabulatedValues(t *testing.T) {
	for df, want := range map[int]float64{1: 12.706, 4: 2.776, 9: 2.262, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980} {
		if got := StudentT975(df); math.Abs(got-want) > 0.001 {
			t.Errorf("t(0.975, %d) = %.4f, want %.3f", df, got, want)
		}
	}
}

func TestMeanCI95IsStudentTIntervalOfTheMean(t *testing.T) {
	// mean 5, sample sd sqrt(2.5), n 5: half-width 2.776 * 1.5811 / 2.2361 = 1.963.
	mean, half := MeanCI95([]float64{3, 4, 5, 6, 7})
	if mean != 5 || math.Abs(half-2.776*math.Sqrt(2.5)/math.Sqrt(5)) > 1e-9 {
		t.Errorf("mean %v half %v", mean, half)
	}
	if _, half := MeanCI95([]float64{4}); half != 0 {
		t.Errorf("one value has no interval: %v", half)
	}
}

func TestRepeatedModeReportsEachRepetitionThenItsMeanAndCI(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: time.Millisecond})
	defer srv.Close()
	cfg := Config{BaseURL: srv.URL, Model: "m", Stream: true, MaxTokens: 4,
		Modes: []Mode{{Name: "c", Kind: KindConcurrent, Concurrency: 2, Requests: 4, Repeat: 3}}}
	sums, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 4 || sums[0].Mode != "c-r1" || sums[2].Rep != 3 || sums[3].Mode != "c" || sums[3].N != 3 || sums[3].Completed != 12 {
		t.Fatalf("want c-r1..c-r3 then c over 12 requests: %+v", sums)
	}
	v := sums[3].Values()
	var xs []float64
	for _, s := range sums[:3] {
		xs = append(xs, s.OutputThroughput)
	}
	mean, half := MeanCI95(xs)
	if v["output_throughput_mean"] != mean || v["output_throughput_ci95_low"] != mean-half || v["output_throughput_ci95_high"] != mean+half || v["n"] != 3 {
		t.Errorf("values %v", v)
	}
	if _, ok := sums[0].Values()["n"]; ok {
		t.Error("a single repetition has no n")
	}
}
