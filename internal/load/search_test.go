package load

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// scripted is a server whose probe at a level passes when pass(level).
func scripted(pass func(level float64, probe int) bool) (Prober, *[]float64) {
	var probed []float64
	return func(_ context.Context, level float64, name string) (Summary, error) {
		probed = append(probed, level)
		ok := pass(level, len(probed))
		s := Summary{Mode: name, SLOPass: &ok, MaxConcurrency: int(level)}
		if !ok {
			s.SLOBinding = "p99_ttft_ms"
		}
		return s, nil
	}, &probed
}

func probeBound(min, max float64) int { return int(math.Ceil(math.Log2(max/min))) + 3 }

func searchMode() Mode { return Mode{Name: "search", Kind: KindSearch, Requests: 8, Min: 1} }

func TestSearchFindsAMonotonicBoundaryWithinToleranceAndTheProbeBound(t *testing.T) {
	for _, max := range []float64{16, 64, 1024} {
		for boundary := 1.0; boundary < max; boundary = math.Ceil(boundary*1.7) + 1 {
			probe, _ := scripted(func(l float64, _ int) bool { return l <= boundary })
			r, err := RunSearch(context.Background(), searchMode(), SearchBound{Max: max, Source: BoundEngine}, probe)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Found || !r.HasFailing || r.MaxPassing > boundary || r.FirstFailing <= boundary {
				t.Fatalf("max %v boundary %v: %+v", max, boundary, r)
			}
			if gap := r.FirstFailing - r.MaxPassing; gap > math.Max(1, DefaultSearchTolerance*r.MaxPassing) {
				t.Errorf("max %v boundary %v: [%v, %v] wider than the tolerance", max, boundary, r.MaxPassing, r.FirstFailing)
			}
			if r.Probes > probeBound(1, max) {
				t.Errorf("max %v boundary %v: %d probes, bound %d", max, boundary, r.Probes, probeBound(1, max))
			}
			if !r.Monotonic || r.Binding != "p99_ttft_ms" || len(r.Summaries) != r.Probes || r.Summaries[r.Probes-1].Probe != r.Probes {
				t.Errorf("max %v boundary %v: %+v", max, boundary, r)
			}
		}
	}
}

func TestSearchOverRateStopsWithinRelativeTolerance(t *testing.T) {
	m := searchMode()
	m.Over, m.Min, m.Max, m.Tolerance = OverRate, 0.5, "64", 0.1
	probe, _ := scripted(func(l float64, _ int) bool { return l <= 7.3 })
	r, _ := RunSearch(context.Background(), m, ResolveSearchMax(m, 0, 0), probe)
	if r.Bound.Source != BoundSpec || r.MaxPassing > 7.3 || r.FirstFailing <= 7.3 || r.FirstFailing > r.MaxPassing*1.1+1e-9 {
		t.Fatalf("%+v", r)
	}
	if r.Probes > probeBound(0.5, 64) {
		t.Errorf("%d probes", r.Probes)
	}
}

func TestSearchThatPassesAtTheKVBoundSaysMemoryBinds(t *testing.T) {
	probe, probed := scripted(func(float64, int) bool { return true })
	r, _ := RunSearch(context.Background(), searchMode(), SearchBound{Max: 37, Source: BoundEngine}, probe)
	if !r.Found || r.MaxPassing != 37 || r.HasFailing || !r.AtBound || r.Probes != 2 {
		t.Fatalf("%+v probed %v", r, *probed)
	}
	if !strings.Contains(r.Note(), "memory binds") {
		t.Errorf("note %q", r.Note())
	}
}

func TestSearchThatFailsAtMinFindsNothing(t *testing.T) {
	probe, probed := scripted(func(float64, int) bool { return false })
	r, _ := RunSearch(context.Background(), searchMode(), SearchBound{Max: 256, Source: BoundDefault}, probe)
	if r.Found || !r.HasFailing || r.FirstFailing != 1 || (*probed)[len(*probed)-1] != 1 || r.Probes > probeBound(1, 256) {
		t.Fatalf("%+v probed %v", r, *probed)
	}
	if !strings.Contains(r.Note(), "no concurrency") {
		t.Errorf("note %q", r.Note())
	}
}

func TestSearchReprobeReportsACliffAsNotMonotonic(t *testing.T) {
	// Passes up to 40 the first time a level is probed, fails every
	// repeated probe: the boundary's re-probe must catch it.
	seen := map[float64]bool{}
	probe, _ := scripted(func(l float64, _ int) bool {
		again := seen[l]
		seen[l] = true
		return l <= 40 && !again
	})
	r, _ := RunSearch(context.Background(), searchMode(), SearchBound{Max: 512, Source: BoundEngine}, probe)
	if r.Monotonic || !strings.Contains(r.Note(), "NOT MONOTONIC") {
		t.Fatalf("cliff not reported: %+v", r)
	}
}

func TestSearchOnANoisyServerStaysNearItsBoundary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	probe, _ := scripted(func(l float64, _ int) bool { return l*(1+0.04*rng.NormFloat64()) <= 100 })
	m := searchMode()
	m.Replicates = 3
	r, _ := RunSearch(context.Background(), m, SearchBound{Max: 1024, Source: BoundEngine}, probe)
	if !r.Found || r.MaxPassing < 80 || r.MaxPassing > 120 || r.Probes > probeBound(1, 1024)+2 {
		t.Fatalf("%+v", r)
	}
}

func TestSearchMaxAutoTakesEngineThenPredictedThenDefault(t *testing.T) {
	m := searchMode()
	for _, c := range []struct {
		engine, predicted, want float64
		source                  string
	}{{37.6, 40, 37, BoundEngine}, {0, 40.2, 40, BoundPredicted}, {0, 0, DefaultSearchMax, BoundDefault}} {
		if b := ResolveSearchMax(m, c.engine, c.predicted); b.Max != c.want || b.Source != c.source {
			t.Errorf("engine %v predicted %v: %+v", c.engine, c.predicted, b)
		}
	}
}

func TestSearchValidateReportsEveryFieldAtItsKey(t *testing.T) {
	c := Config{BaseURL: "http://h", Model: "m", Modes: []Mode{
		{Kind: KindSearch, Over: "concurency", Max: "lots", Tolerance: 2, Concurrency: 4},
		{Kind: KindSearch, Over: OverRate, Requests: 4, SLO: &SLO{P99TTFTms: 1}},
		{Kind: KindConcurrent, Concurrency: 1, Requests: 1, Min: 2},
	}}
	err := c.Validate()
	for _, want := range []string{`modes[0].over: "concurency" is not one of concurrency, rate (did you mean "concurrency"?)`,
		"modes[0].max", "modes[0].tolerance", "modes[0].concurrency", "modes[0].slo: a search needs an aggregate SLO",
		"modes[0]: requests or duration", "modes[1].max: auto applies to over: concurrency", "modes[2].min: applies to kind search only"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %s in %v", want, err)
		}
	}
}
