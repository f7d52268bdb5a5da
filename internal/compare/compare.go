// Package compare matches the points of two runs and says, per metric,
// whether the new run regressed, improved or stayed within noise.
//
// Contract: points match by study and configuration (their sweep values
// without the repetition index): the repetitions of one configuration in a
// run (a sweep's repeat: N) are one sample, compared with the other run's
// sample as distributions, never repetition by repetition. A change is a
// regression when it moves the metric's mean the bad way by more than the
// threshold (a fraction of the base) and, when both sides have two or more
// repetitions, a Welch t-test finds it significant at 95%; a side with one
// repetition is judged by the threshold alone, and the row says so. Each
// side's mean carries its 95% Student-t interval and n. Points in only one
// run are listed, never errors. The package knows nothing of run folders:
// callers hand it Points (internal/report reads them from a folder).
package compare

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/runexp/runexp/internal/load"
)

// Point is one point of a run: its identity and its numeric values.
type Point struct {
	Study  string
	Key    string // the configuration, e.g. "max_model_len=512", without the repeat axis: equal keys are repetitions
	OK     bool   // the point succeeded; failed points are not compared
	Values map[string]any
}

// Metric is a value to compare and which way is better.
type Metric struct {
	Name   string
	Higher bool // higher is better (throughput, capacity)
}

func (m Metric) String() string {
	if m.Higher {
		return m.Name + ":higher"
	}
	return m.Name + ":lower"
}

// defaultRules pick the default metrics among a point's values by name
// suffix: throughput, KV capacity and concurrency higher is better;
// latencies and device memory lower is better.
var defaultRules = []struct {
	suffix string
	higher bool
}{
	{"output_throughput", true},
	{"request_throughput", true},
	{"total_token_throughput", true},
	{"kv_cache_tokens", true},
	{"max_concurrency", true},
	{"ttft_ms", false},
	{"tpot_ms", false},
	{"itl_ms", false},
	{"e2el_ms", false},
	{"gpu_mem_used_mb", false},
	{"gpu_mem_max_mb", false},
}

// DefaultDirection says whether name is one of the default metrics and, if
// so, whether higher is better.
func DefaultDirection(name string) (higher, ok bool) {
	if strings.HasPrefix(name, "predicted_") {
		return false, false // runexp's own prediction, not a measurement
	}
	for _, r := range defaultRules {
		if name == r.suffix || strings.HasSuffix(name, "_"+r.suffix) {
			return r.higher, true
		}
	}
	return false, false
}

// ParseMetric parses NAME, NAME:higher or NAME:lower; a bare NAME must be
// one whose direction DefaultDirection knows.
func ParseMetric(s string) (Metric, error) {
	name, dir, hasDir := strings.Cut(s, ":")
	if name == "" {
		return Metric{}, fmt.Errorf("metric %q: empty name", s)
	}
	switch {
	case !hasDir:
		higher, ok := DefaultDirection(name)
		if !ok {
			return Metric{}, fmt.Errorf("metric %q: say which way is better (%s:higher or %s:lower)", s, name, name)
		}
		return Metric{Name: name, Higher: higher}, nil
	case dir == "higher":
		return Metric{Name: name, Higher: true}, nil
	case dir == "lower":
		return Metric{Name: name}, nil
	}
	return Metric{}, fmt.Errorf("metric %q: direction %q is neither higher nor lower", s, dir)
}

// ParseThreshold parses "5%" or "0.05" into a fraction.
func ParseThreshold(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("threshold %q: want a non-negative number or percentage, e.g. 5%%", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}

// Options configure Compare.
type Options struct {
	Metrics   []Metric // empty: the default metrics present in the points
	Threshold float64  // fraction of the base value; 0.05 is 5%
}

// Verdicts of a comparison row.
const (
	Regressed   = "regressed"
	Improved    = "improved"
	WithinNoise = "within noise"
	// NoBase is a metric whose base is 0 while the new value is not: no
	// relative change exists (typically a sample the base run missed).
	NoBase = "no base"
)

// Row is one metric of one matched point.
type Row struct {
	Study   string  `json:"study"`
	Point   string  `json:"point"`
	Metric  string  `json:"metric"`
	Higher  bool    `json:"higher_is_better"`
	Base    float64 `json:"base"`
	New     float64 `json:"new"`
	Change  float64 `json:"change"` // (new-base)/|base|; ±Inf when base is 0
	BaseN   int     `json:"base_n"`
	NewN    int     `json:"new_n"`
	BaseCI  *CI     `json:"base_ci95,omitempty"` // with two or more repetitions
	NewCI   *CI     `json:"new_ci95,omitempty"`
	Welch   *Welch  `json:"welch,omitempty"` // with repetitions on both sides
	Verdict string  `json:"verdict"`
	// Note says why a row with repetitions on one side only was judged by
	// the threshold alone.
	Note string `json:"note,omitempty"`
}

// CI is the two-sided 95% Student-t interval of a mean.
type CI struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// sampleCI is the interval of the mean of xs; nil for fewer than two.
func sampleCI(xs []float64) *CI {
	if len(xs) < 2 {
		return nil
	}
	m, half := load.MeanCI95(xs)
	return &CI{Low: m - half, High: m + half}
}

// MarshalJSON writes an infinite change (from a base of 0) as null, which
// JSON can carry and Inf it cannot.
func (row Row) MarshalJSON() ([]byte, error) {
	type plain Row
	out := struct {
		plain
		Change *float64 `json:"change"`
	}{plain: plain(row), Change: finite(row.Change)}
	return json.Marshal(out)
}

// finite is x, or nil (JSON null) when x is infinite.
func finite(x float64) *float64 {
	if math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// Welch is a two-sided Welch t-test at 95%. T is ±Inf when neither side
// varies (any difference is then significant).
type Welch struct {
	T           float64 `json:"t"`
	DF          float64 `json:"df"`
	Significant bool    `json:"significant"`
}

// MarshalJSON writes an infinite t as null, which JSON can carry.
func (w Welch) MarshalJSON() ([]byte, error) {
	type plain Welch
	out := struct {
		plain
		T *float64 `json:"t"`
	}{plain: plain(w), T: finite(w.T)}
	return json.Marshal(out)
}

// Result is the comparison of two runs.
type Result struct {
	Threshold float64  `json:"threshold"`
	Rows      []Row    `json:"rows"`
	OnlyBase  []string `json:"only_in_base,omitempty"` // "study point"
	OnlyNew   []string `json:"only_in_new,omitempty"`
}

// Regressed reports whether any row regressed.
func (r *Result) Regressed() bool {
	for _, row := range r.Rows {
		if row.Verdict == Regressed {
			return true
		}
	}
	return false
}

// RegressedMetrics lists the distinct metrics that regressed, sorted.
func (r *Result) RegressedMetrics() []string {
	seen := map[string]bool{}
	var out []string
	for _, row := range r.Rows {
		if row.Verdict == Regressed && !seen[row.Metric] {
			seen[row.Metric] = true
			out = append(out, row.Metric)
		}
	}
	sort.Strings(out)
	return out
}

type group struct {
	study, key string
	points     []Point
}

func groups(points []Point) ([]*group, map[string]*group) {
	var order []*group
	byID := map[string]*group{}
	for _, p := range points {
		id := p.Study + "\x00" + p.Key
		g := byID[id]
		if g == nil {
			g = &group{study: p.Study, key: p.Key}
			byID[id] = g
			order = append(order, g)
		}
		g.points = append(g.points, p)
	}
	return order, byID
}

func pointName(g *group) string {
	if g.key == "" {
		return g.study
	}
	return g.study + " " + g.key
}

// Compare matches base and new points and compares their metrics.
func Compare(base, new []Point, opt Options) *Result {
	res := &Result{Threshold: opt.Threshold}
	baseOrder, baseBy := groups(base)
	newOrder, newBy := groups(new)
	for _, g := range baseOrder {
		if newBy[g.study+"\x00"+g.key] == nil {
			res.OnlyBase = append(res.OnlyBase, pointName(g))
		}
	}
	for _, ng := range newOrder {
		bg := baseBy[ng.study+"\x00"+ng.key]
		if bg == nil {
			res.OnlyNew = append(res.OnlyNew, pointName(ng))
			continue
		}
		for _, m := range metricsOf(bg, ng, opt.Metrics) {
			bs, ns := samples(bg, m.Name), samples(ng, m.Name)
			if len(bs) == 0 || len(ns) == 0 {
				continue
			}
			res.Rows = append(res.Rows, compareRow(ng.study, ng.key, m, bs, ns, opt.Threshold))
		}
	}
	return res
}

// metricsOf returns the metrics to compare for a matched point: the asked
// ones, or the default metrics both sides have, sorted by name.
func metricsOf(bg, ng *group, asked []Metric) []Metric {
	if len(asked) > 0 {
		return asked
	}
	names := map[string]bool{}
	for _, p := range ng.points {
		for k, v := range p.Values {
			if _, ok := number(v); ok {
				names[k] = true
			}
		}
	}
	var out []Metric
	for name := range names {
		if higher, ok := DefaultDirection(name); ok && len(samples(bg, name)) > 0 {
			out = append(out, Metric{Name: name, Higher: higher})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func samples(g *group, name string) []float64 {
	var out []float64
	for _, p := range g.points {
		if !p.OK {
			continue
		}
		if v, ok := number(p.Values[name]); ok {
			out = append(out, v)
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case string: // what an exec step records from its output
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func compareRow(study, key string, m Metric, bs, ns []float64, threshold float64) Row {
	row := Row{Study: study, Point: key, Metric: m.Name, Higher: m.Higher, Base: mean(bs), New: mean(ns),
		BaseN: len(bs), NewN: len(ns), BaseCI: sampleCI(bs), NewCI: sampleCI(ns)}
	switch {
	case row.Base == row.New:
		row.Change = 0
	case row.Base == 0:
		row.Change = math.Inf(1)
		if row.New < 0 {
			row.Change = math.Inf(-1)
		}
	default:
		row.Change = (row.New - row.Base) / math.Abs(row.Base)
	}
	better := row.Change
	if !m.Higher {
		better = -better
	}
	significant := true
	switch {
	case len(bs) > 1 && len(ns) > 1:
		w := welch(bs, ns)
		row.Welch = &w
		significant = w.Significant
	case len(bs) == 1 && len(ns) > 1:
		row.Note = "one base sample: no test, threshold only"
	case len(bs) > 1 && len(ns) == 1:
		row.Note = "one new sample: no test, threshold only"
	}
	switch {
	case math.IsInf(row.Change, 0):
		row.Verdict = NoBase
	case better < -threshold && significant:
		row.Verdict = Regressed
	case better > threshold && significant:
		row.Verdict = Improved
	default:
		row.Verdict = WithinNoise
	}
	return row
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func variance(xs []float64, m float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return s / float64(len(xs)-1)
}

// welch runs Welch's unequal-variance t-test on a and b (each n ≥ 2).
func welch(a, b []float64) Welch {
	ma, mb := mean(a), mean(b)
	va, vb := variance(a, ma)/float64(len(a)), variance(b, mb)/float64(len(b))
	se := va + vb
	if se == 0 {
		// No spread on either side: any difference is real, none is noise.
		t := 0.0
		switch {
		case mb > ma:
			t = math.Inf(1)
		case mb < ma:
			t = math.Inf(-1)
		}
		return Welch{T: t, DF: float64(len(a) + len(b) - 2), Significant: ma != mb}
	}
	t := (mb - ma) / math.Sqrt(se)
	df := se * se / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	return Welch{T: t, DF: df, Significant: math.Abs(t) > tCritical95(df)}
}

// tCritical95 is the two-sided 95% critical value of Student's t with df
// degrees of freedom (rounded down, so the test errs towards "noise").
func tCritical95(df float64) float64 {
	table := []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	i := int(math.Floor(df))
	switch {
	case i < 1:
		return table[0]
	case i <= len(table):
		return table[i-1]
	case i <= 60:
		return 2.000
	case i <= 120:
		return 1.980
	}
	return 1.960
}
