package load

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/runexp/runexp/spec"
)

// Search defaults.
const (
	DefaultSearchMax       = 1024 // max: auto with no KV capacity recorded
	DefaultSearchTolerance = 0.05
)

// Where a search's upper bound came from (SearchBound.Source).
const (
	BoundSpec      = "spec"      // max: N
	BoundEngine    = "engine"    // the point's max_concurrency (engine log)
	BoundPredicted = "predicted" // the point's predicted_max_concurrency
	BoundDefault   = "default"   // DefaultSearchMax
)

// SearchBound is the highest level a search probes and where it came from.
type SearchBound struct {
	Max    float64
	Source string // Bound* constant
}

// ResolveSearchMax turns a mode's max into a bound: a number is used as
// written; "auto" (or unset) takes engine (the KV capacity the engine
// logged, e.g. vLLM's "Maximum concurrency"), else predicted, else
// DefaultSearchMax. engine and predicted are 0 when unknown.
func ResolveSearchMax(m Mode, engine, predicted float64) SearchBound {
	if m.Max != "" && m.Max != SearchMaxAuto {
		x, _ := strconv.ParseFloat(string(m.Max), 64) // Validate checked it
		return SearchBound{Max: x, Source: BoundSpec}
	}
	floor := func(x float64) float64 {
		if m.over() == OverConcurrency {
			return math.Floor(x) // 37.6 requests fit: 37 in flight do
		}
		return x
	}
	switch {
	case engine >= 1:
		return SearchBound{Max: floor(engine), Source: BoundEngine}
	case predicted >= 1:
		return SearchBound{Max: floor(predicted), Source: BoundPredicted}
	}
	return SearchBound{Max: DefaultSearchMax, Source: BoundDefault}
}

// searchMin is the lowest level a search probes: Min, default 1.
func (m Mode) searchMin() float64 {
	if m.Min == 0 {
		return 1
	}
	return m.Min
}

func (m Mode) over() SearchOver {
	if m.Over == "" {
		return OverConcurrency
	}
	return m.Over
}

// SearchResult is the outcome of a search mode.
type SearchResult struct {
	Mode  string
	Over  SearchOver
	Min   float64
	Bound SearchBound
	// Found says MaxPassing is set: some level met the SLOs.
	Found      bool
	MaxPassing float64
	// HasFailing says FirstFailing is set: some level failed (not so when
	// the bound itself passes).
	HasFailing   bool
	FirstFailing float64
	// Binding is the first SLO that failed at FirstFailing.
	Binding string
	// Probes counts every probe, re-probes included.
	Probes int
	// Monotonic is false when a re-probe of MaxPassing failed: the server
	// is noisy or has a cliff there, and the answer is not reliable.
	Monotonic bool
	// AtBound says MaxPassing is the bound: when the bound is the engine's
	// KV capacity, memory binds, not latency.
	AtBound bool
	// Passing is the summary of the last passing probe at MaxPassing.
	Passing Summary
	// Summaries are the probes in order, each with Probe, SLOPass and
	// SLOMargins set.
	Summaries []Summary
}

// Note is one sentence on what bounds the answer, for logs and notes.
func (r SearchResult) Note() string {
	unit := "concurrency"
	if r.Over == OverRate {
		unit = "rate"
	}
	var b strings.Builder
	switch {
	case !r.Found:
		fmt.Fprintf(&b, "no %s from %g up meets the SLOs (%s fails at %g)", unit, r.Min, r.Binding, r.FirstFailing)
	case r.AtBound && (r.Bound.Source == BoundEngine || r.Bound.Source == BoundPredicted):
		fmt.Fprintf(&b, "%s %g, the KV-cache bound (%s), meets the SLOs: memory binds, not latency", unit, r.MaxPassing, r.Bound.Source)
	case r.AtBound:
		fmt.Fprintf(&b, "%s %g, the search's max (%s), meets the SLOs: the answer may be higher", unit, r.MaxPassing, r.Bound.Source)
	default:
		fmt.Fprintf(&b, "highest %s meeting the SLOs: %g; %s fails first at %g (latency binds below the bound %g)", unit, r.MaxPassing, r.Binding, r.FirstFailing, r.Bound.Max)
	}
	if !r.Monotonic {
		fmt.Fprintf(&b, "; NOT MONOTONIC: %g failed when re-probed", r.MaxPassing)
	}
	return b.String()
}

// Prober runs one probe at a level and returns its summary, whose SLOPass
// judges it.
type Prober func(ctx context.Context, level float64, name string) (Summary, error)

// searchLevels are the levels a search can tell apart: from min to max,
// each next level the smallest one more than tolerance above the last
// (integers for concurrency, at least 1 apart).
func searchLevels(over SearchOver, lo, hi, tol float64) []float64 {
	var out []float64
	for x := lo; x < hi; {
		out = append(out, x)
		if over == OverConcurrency {
			x += max(1, math.Floor(tol*x))
		} else {
			x *= 1 + tol
		}
	}
	return append(out, hi)
}

// RunSearch finds the highest level of m's kind (concurrency or rate)
// between m.Min and bound.Max whose probe passes the SLOs. It probes the
// bound first (when it passes, the bound binds and one probe suffices),
// then bisects the levels tolerance apart (searchLevels), assuming a
// monotonic server; a bisection over n levels takes ceil(log2 n) probes,
// within ceil(log2(max/min)) + 3 for min 1. The answer is then re-probed
// m.Replicates times (default 1) and a failure reported as non-monotonic
// rather than hidden. ctx cancellation and probe errors end the search
// with the probes so far.
func RunSearch(ctx context.Context, m Mode, bound SearchBound, probe Prober) (SearchResult, error) {
	tol := m.Tolerance
	if tol == 0 {
		tol = DefaultSearchTolerance
	}
	lo := m.searchMin()
	hi := max(bound.Max, lo)
	r := SearchResult{Mode: m.label(), Over: m.over(), Min: lo, Bound: bound, Monotonic: true}
	levels := searchLevels(r.Over, lo, hi, tol)
	passes := func(s Summary) bool { return s.SLOPass != nil && *s.SLOPass }
	run := func(level float64, suffix string) (Summary, error) {
		r.Probes++
		s, err := probe(ctx, level, fmt.Sprintf("%s-%s%s", r.Mode, strconv.FormatFloat(level, 'g', -1, 64), suffix))
		s.Probe = r.Probes
		r.Summaries = append(r.Summaries, s)
		return s, err
	}

	// Invariant: levels[pass] passed (pass == -1: none known), levels[fail]
	// failed (fail == len(levels): none known).
	pass, fail := -1, len(levels)
	s, err := run(hi, "")
	if err != nil {
		return r, err
	}
	if passes(s) {
		pass, r.Passing = len(levels)-1, s
	} else {
		fail, r.Binding = len(levels)-1, s.SLOBinding
	}
	for fail-pass > 1 {
		mid := (pass + fail) / 2 // pass >= -1, so mid >= 0
		s, err := run(levels[mid], "")
		if err != nil {
			return r, err
		}
		if passes(s) {
			pass, r.Passing = mid, s
		} else {
			fail, r.Binding = mid, s.SLOBinding
		}
	}
	if pass >= 0 {
		r.Found, r.MaxPassing = true, levels[pass]
		r.AtBound = pass == len(levels)-1
		replicates := max(m.Replicates, 1)
		for i := range replicates {
			s, err := run(levels[pass], fmt.Sprintf("-r%d", i+1))
			if err != nil {
				return r, err
			}
			if passes(s) {
				r.Passing = s
			} else {
				r.Monotonic = false
			}
		}
	}
	if fail < len(levels) {
		r.HasFailing, r.FirstFailing = true, levels[fail]
	}
	return r, nil
}

// Search runs search mode m of cfg against the server: each probe is a
// closed-loop (over concurrency) or open-loop (over rate) mode of
// m.Requests requests (or m.Duration) with m's SLOs (else cfg.SLO), run
// as Run runs a mode, warm-up included. A failing probe is data: its
// ThresholdExceeded is cleared, since its SLOs judge it.
func Search(ctx context.Context, cfg Config, m Mode, bound SearchBound, onResult func(RequestResult)) (SearchResult, error) {
	slo := m.SLO
	if slo == nil {
		slo = cfg.SLO
	}
	prober := func(ctx context.Context, level float64, name string) (Summary, error) {
		pm := Mode{Name: name, Requests: m.Requests, Duration: m.Duration, SLO: slo, Seed: m.Seed, Arrival: m.Arrival}
		if m.over() == OverRate {
			pm.Kind, pm.Rate = KindRate, level
		} else {
			pm.Kind, pm.Concurrency = KindConcurrent, int(level)
		}
		one := cfg
		one.Modes = []Mode{pm}
		sums, err := Run(ctx, one, onResult)
		if len(sums) == 0 {
			if err == nil {
				err = fmt.Errorf("probe %s: no summary", name)
			}
			return Summary{Mode: name}, err
		}
		sums[0].ThresholdExceeded = false
		return sums[0], err
	}
	return RunSearch(ctx, m, bound, prober)
}

// validateSearch checks a search mode's keys; stepSLO is the step's SLOs,
// used when the mode has none.
func (m Mode) validateSearch(p *spec.Problems, at func(string) string, stepSLO *SLO) {
	if m.Over != "" && !spec.InEnum(m.Over, string(m.Over)) {
		p.Add(at(".over"), "%s", spec.NotInEnum(string(m.Over), m.Over.Values()))
	}
	if m.Requests == 0 && m.Duration == 0 {
		p.Add(at(""), "requests or duration (of each probe) is required")
	}
	if m.Concurrency != 0 {
		p.Add(at(".concurrency"), "is what the search varies; give min and max")
	}
	if m.Rate != 0 {
		p.Add(at(".rate"), "is what the search varies; give over: rate, min and max")
	}
	if m.MaxInFlight != 0 {
		p.Add(at(".max_in_flight"), "does not apply to a search")
	}
	if m.Arrival != "" && m.over() != OverRate {
		p.Add(at(".arrival"), "applies to over: rate only")
	}
	integer := m.over() == OverConcurrency
	if m.Min < 0 || math.IsNaN(m.Min) || math.IsInf(m.Min, 0) || (integer && m.Min != math.Trunc(m.Min)) {
		p.Add(at(".min"), "%v must be a positive %s", m.Min, map[bool]string{true: "integer", false: "number"}[integer])
	}
	switch m.Max {
	case "", SearchMaxAuto:
		if !integer {
			p.Add(at(".max"), "auto applies to over: concurrency (the KV bound); give the highest rate to probe")
		}
	default:
		x, err := strconv.ParseFloat(string(m.Max), 64)
		switch {
		case err != nil || !(x > 0) || math.IsInf(x, 0):
			p.Add(at(".max"), "%q is neither auto nor a positive number", string(m.Max))
		case integer && x != math.Trunc(x):
			p.Add(at(".max"), "%v must be an integer (a concurrency)", x)
		case x < m.searchMin():
			p.Add(at(".max"), "%v is below min %v", x, m.searchMin())
		}
	}
	if m.Tolerance < 0 || m.Tolerance > 1 || math.IsNaN(m.Tolerance) {
		p.Add(at(".tolerance"), "%v must be within (0, 1]", m.Tolerance)
	}
	if m.Replicates < 0 {
		p.Add(at(".replicates"), "%d must be >= 0", m.Replicates)
	}
	slo := m.SLO
	if slo == nil {
		slo = stepSLO
	}
	if !slo.aggregate() {
		p.Add(at(".slo"), "a search needs an aggregate SLO to pass or fail a probe: p50/p90/p95/p99 x ttft/tpot/itl/e2el _ms (e.g. p99_ttft_ms: 1000), max_error_rate or min_slo_attainment")
	}
}
