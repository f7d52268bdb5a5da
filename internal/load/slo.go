package load

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/runexp/runexp/spec"
)

// SLO holds service-level objectives. The per-request ones (TTFTms, TPOTms,
// E2ELms) are vLLM's --goodput: a request meets them when it completed and
// each of its set latencies is at most the limit; they give a mode's
// request_goodput (such requests per second) and slo_attainment (their
// fraction of the requests sent). The aggregate ones (percentiles of the
// mode, its error rate, its attainment) decide whether a mode passes
// (Summary.SLOPass): a search uses them. A zero field is not an objective.
type SLO struct {
	TTFTms float64 `yaml:"ttft_ms" json:"ttft_ms,omitempty" doc:"per request: time to first token at most this many ms (vLLM --goodput ttft)"`
	TPOTms float64 `yaml:"tpot_ms" json:"tpot_ms,omitempty" doc:"per request: time per output token at most this many ms (vLLM --goodput tpot)"`
	E2ELms float64 `yaml:"e2el_ms" json:"e2el_ms,omitempty" doc:"per request: end-to-end latency at most this many ms (vLLM --goodput e2el)"`

	P50TTFTms float64 `yaml:"p50_ttft_ms" json:"p50_ttft_ms,omitempty" doc:"mode: median TTFT at most this many ms"`
	P90TTFTms float64 `yaml:"p90_ttft_ms" json:"p90_ttft_ms,omitempty" doc:"mode: p90 TTFT at most this many ms"`
	P95TTFTms float64 `yaml:"p95_ttft_ms" json:"p95_ttft_ms,omitempty" doc:"mode: p95 TTFT at most this many ms"`
	P99TTFTms float64 `yaml:"p99_ttft_ms" json:"p99_ttft_ms,omitempty" doc:"mode: p99 TTFT at most this many ms"`
	P50TPOTms float64 `yaml:"p50_tpot_ms" json:"p50_tpot_ms,omitempty" doc:"mode: median TPOT at most this many ms"`
	P90TPOTms float64 `yaml:"p90_tpot_ms" json:"p90_tpot_ms,omitempty" doc:"mode: p90 TPOT at most this many ms"`
	P95TPOTms float64 `yaml:"p95_tpot_ms" json:"p95_tpot_ms,omitempty" doc:"mode: p95 TPOT at most this many ms"`
	P99TPOTms float64 `yaml:"p99_tpot_ms" json:"p99_tpot_ms,omitempty" doc:"mode: p99 TPOT at most this many ms"`
	P50ITLms  float64 `yaml:"p50_itl_ms" json:"p50_itl_ms,omitempty" doc:"mode: median inter-token latency at most this many ms"`
	P90ITLms  float64 `yaml:"p90_itl_ms" json:"p90_itl_ms,omitempty" doc:"mode: p90 inter-token latency at most this many ms"`
	P95ITLms  float64 `yaml:"p95_itl_ms" json:"p95_itl_ms,omitempty" doc:"mode: p95 inter-token latency at most this many ms"`
	P99ITLms  float64 `yaml:"p99_itl_ms" json:"p99_itl_ms,omitempty" doc:"mode: p99 inter-token latency at most this many ms"`
	P50E2ELms float64 `yaml:"p50_e2el_ms" json:"p50_e2el_ms,omitempty" doc:"mode: median end-to-end latency at most this many ms"`
	P90E2ELms float64 `yaml:"p90_e2el_ms" json:"p90_e2el_ms,omitempty" doc:"mode: p90 end-to-end latency at most this many ms"`
	P95E2ELms float64 `yaml:"p95_e2el_ms" json:"p95_e2el_ms,omitempty" doc:"mode: p95 end-to-end latency at most this many ms"`
	P99E2ELms float64 `yaml:"p99_e2el_ms" json:"p99_e2el_ms,omitempty" doc:"mode: p99 end-to-end latency at most this many ms"`

	MaxErrorRate     *float64 `yaml:"max_error_rate" json:"max_error_rate,omitempty" doc:"mode: failed/(completed+failed) at most this (0: no failure)"`
	MinSLOAttainment float64  `yaml:"min_slo_attainment" json:"min_slo_attainment,omitempty" doc:"mode: fraction of requests meeting the per-request SLOs at least this, e.g. 0.99"`
}

// perRequest reports whether s sets a per-request objective.
func (s *SLO) perRequest() bool {
	return s != nil && (s.TTFTms > 0 || s.TPOTms > 0 || s.E2ELms > 0)
}

// meets reports whether completed request r meets the per-request SLOs.
// TPOT is 0 for a request of one token, as in vLLM.
func (s *SLO) meets(r *RequestResult) bool {
	if !r.OK() {
		return false
	}
	if s.TTFTms > 0 && r.TTFTms > s.TTFTms {
		return false
	}
	if s.TPOTms > 0 && r.CompletionTokens > 1 && (r.E2ELms-r.TTFTms)/float64(r.CompletionTokens-1) > s.TPOTms {
		return false
	}
	return !(s.E2ELms > 0 && r.E2ELms > s.E2ELms)
}

// percentileObjective is one aggregate latency SLO: its key, the
// percentile and the metric's samples it judges.
type percentileObjective struct {
	key    string
	limit  float64
	p      float64
	metric string // ttft, tpot, itl, e2el
}

// percentiles lists the set percentile objectives, in a fixed order
// (metric by metric, low percentiles first).
func (s *SLO) percentiles() []percentileObjective {
	if s == nil {
		return nil
	}
	var out []percentileObjective
	v := reflect.ValueOf(*s)
	for _, f := range reflect.VisibleFields(v.Type()) {
		key := f.Tag.Get("yaml")
		pct, rest, ok := strings.Cut(strings.TrimPrefix(key, "p"), "_")
		p, err := strconv.ParseFloat(pct, 64)
		if !strings.HasPrefix(key, "p") || !ok || err != nil {
			continue
		}
		metric := strings.TrimSuffix(rest, "_ms")
		if limit := v.FieldByIndex(f.Index).Float(); limit > 0 {
			out = append(out, percentileObjective{key, limit, p, metric})
		}
	}
	return out
}

// aggregate reports whether s sets an objective a mode passes or fails.
func (s *SLO) aggregate() bool {
	return s != nil && (len(s.percentiles()) > 0 || s.MaxErrorRate != nil || s.MinSLOAttainment > 0)
}

// validate reports problems at the keys under prefix ("slo.").
func (s *SLO) validate(prefix string) error {
	var p spec.Problems
	if s == nil {
		return nil
	}
	v := reflect.ValueOf(*s)
	for _, f := range reflect.VisibleFields(v.Type()) {
		if f.Type.Kind() == reflect.Float64 {
			if x := v.FieldByIndex(f.Index).Float(); x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
				p.Add(prefix+f.Tag.Get("yaml"), "%v must be a number >= 0", x)
			}
		}
	}
	if s.MaxErrorRate != nil && (*s.MaxErrorRate < 0 || *s.MaxErrorRate > 1) {
		p.Add(prefix+"max_error_rate", "%v must be within [0, 1]", *s.MaxErrorRate)
	}
	if s.MinSLOAttainment > 1 {
		p.Add(prefix+"min_slo_attainment", "%v must be within [0, 1]", s.MinSLOAttainment)
	}
	if s.MinSLOAttainment > 0 && !s.perRequest() {
		p.Add(prefix+"min_slo_attainment", "needs a per-request SLO (ttft_ms, tpot_ms or e2el_ms)")
	}
	return p.Err()
}

// ParseGoodput reads vLLM's --goodput arguments ("ttft:500", "tpot:50",
// "e2el:5000", milliseconds) into per-request SLOs.
func ParseGoodput(args []string) (*SLO, error) {
	s := &SLO{}
	for _, a := range args {
		for _, kv := range strings.Fields(a) {
			k, v, ok := strings.Cut(kv, ":")
			ms, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || !(ms > 0) || math.IsInf(ms, 0) {
				return nil, fmt.Errorf("--goodput %q: want KEY:MS with KEY ttft, tpot or e2el and MS > 0", kv)
			}
			switch k {
			case "ttft":
				s.TTFTms = ms
			case "tpot":
				s.TPOTms = ms
			case "e2el":
				s.E2ELms = ms
			default:
				return nil, fmt.Errorf("--goodput %q: %s", kv, spec.NotInEnum(k, []string{"ttft", "tpot", "e2el"}))
			}
		}
	}
	return s, nil
}

// judgeSLO fills the SLO fields of s from its mode's per-request SLOs and
// the sorted samples of each metric.
func judgeSLO(s *Summary, slo *SLO, rs []RequestResult, sorted map[string][]float64) {
	if slo == nil {
		return
	}
	if slo.perRequest() {
		good := 0
		for i := range rs {
			if slo.meets(&rs[i]) {
				good++
			}
		}
		var goodput, attainment float64
		if s.Duration > 0 {
			goodput = float64(good) / s.Duration
		}
		if sent := s.Completed + s.Failed; sent > 0 {
			attainment = float64(good) / float64(sent)
		}
		s.RequestGoodput, s.SLOAttainment = &goodput, &attainment
	}
	if !slo.aggregate() {
		return
	}
	pass := true
	s.SLOMargins = map[string]float64{}
	fail := func(key string) {
		if pass {
			s.SLOBinding = key
		}
		pass = false
	}
	for _, o := range slo.percentiles() {
		x := sorted[o.metric]
		if len(x) == 0 {
			s.SLOMargins[o.key] = -1
			fail(o.key)
			continue
		}
		got := Percentile(x, o.p)
		// Relative headroom: 0.2 is 20 % below the limit, negative is over.
		s.SLOMargins[o.key] = 1 - got/o.limit
		if got > o.limit {
			fail(o.key)
		}
	}
	if slo.MaxErrorRate != nil {
		s.SLOMargins["max_error_rate"] = *slo.MaxErrorRate - s.ErrorRate
		if s.ErrorRate > *slo.MaxErrorRate || s.Completed == 0 {
			fail("max_error_rate")
		}
	}
	if slo.MinSLOAttainment > 0 && s.SLOAttainment != nil {
		s.SLOMargins["min_slo_attainment"] = *s.SLOAttainment - slo.MinSLOAttainment
		if *s.SLOAttainment < slo.MinSLOAttainment {
			fail("min_slo_attainment")
		}
	}
	s.SLOPass = &pass
}
