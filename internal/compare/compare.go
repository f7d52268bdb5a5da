// Package compare matches the points of two runs and says, per metric,
// whether the new run regressed, improved or stayed within noise.
//
// Contract: points match by study and configuration (their sweep values
// without the repetition index). Each side of a metric is a sample
// summarised by its mean, variance and n:
//
//   - The repetitions of one configuration in a run (a sweep's repeat: N,
//     a server each) are one sample, compared with the other run's sample
//     as distributions, never repetition by repetition. A point whose
//     values carry <metric>_mean (a load mode's repeat: M) adds that mean,
//     not the pooled <metric>, as its one value: one value per server, as
//     the artifact fold does.
//   - A side with one point whose values carry <metric>_mean and
//     <metric>_ci95_high, and whose mode (the prefix p of metric = p_rest
//     with p_n present) ran p_n ≥ 2 times on its one server, is that
//     mode's sample: mean <metric>_mean, n = p_n, and the variance
//     recovered from the 95 % Student-t half-width (sd = half·√n /
//     t₀.₉₇₅(n−1), load.StudentT975). Its n counts repetitions on one
//     server, so its interval is within-server noise, not
//     server-to-server, and the row's Note says so.
//   - A metric without these statistics (p99_ttft_ms, kv_cache_tokens)
//     is one value per point, as before.
//
// A change is a regression when it moves the metric's mean the bad way by
// more than the threshold (a fraction of the base) and, when both sides
// have n ≥ 2, a Welch t-test on the two summaries finds it significant at
// 95%; a side with n = 1 is judged by the threshold alone, and the row
// says so. Each side's mean carries its 95% Student-t interval and n.
// Points in only one run are listed, never errors. The package knows
// nothing of run folders: callers hand it Points (internal/report reads
// them from a folder).
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
	BaseCI  *CI     `json:"base_ci95,omitempty"` // with n ≥ 2
	NewCI   *CI     `json:"new_ci95,omitempty"`
	Welch   *Welch  `json:"welch,omitempty"` // with n ≥ 2 on both sides
	Verdict string  `json:"verdict"`
	// Note says why a row with n ≥ 2 on one side only was judged by the
	// threshold alone, and which side's n counts a load mode's
	// repetitions on one server (within-server noise).
	Note string `json:"note,omitempty"`
}

// CI is the two-sided 95% Student-t interval of a mean.
type CI struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
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
			bs, bok := sampleOf(bg, m.Name)
			ns, nok := sampleOf(ng, m.Name)
			if !bok || !nok {
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
		higher, ok := DefaultDirection(name)
		if !ok {
			continue
		}
		if _, found := sampleOf(bg, name); found {
			out = append(out, Metric{Name: name, Higher: higher})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sample is one side of a metric, summarised for the Welch test.
type sample struct {
	mean     float64
	variance float64 // of one value (n−1 denominator); 0 when n is 1
	n        int
	ci       *CI  // 95 % Student-t interval of the mean; nil when n is 1
	oneHost  bool // n counts a load mode's repetitions on one server
}

// sampleOf is g's sample of the metric name (see the package doc): a
// mode's repetitions on one server when g has one ok point that carries
// them, else one value per ok point (its <name>_mean when it has one).
// ok is false when no ok point has the metric.
func sampleOf(g *group, name string) (s sample, ok bool) {
	var pts []Point
	for _, p := range g.points {
		if p.OK {
			pts = append(pts, p)
		}
	}
	if len(pts) == 1 {
		if s, ok := modeRepetitions(pts[0].Values, name); ok {
			return s, true
		}
	}
	var xs []float64
	for _, p := range pts {
		v, ok := number(p.Values[name+"_mean"])
		if !ok {
			v, ok = number(p.Values[name])
		}
		if ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return sample{}, false
	}
	m, half := load.MeanCI95(xs)
	s = sample{mean: m, n: len(xs)}
	if len(xs) > 1 {
		s.variance = variance(xs, m)
		s.ci = &CI{Low: m - half, High: m + half}
	}
	return s, true
}

// modeRepetitions is the sample a repeated load mode recorded for name on
// one server: <name>_mean, <name>_ci95_high and the mode's n ≥ 2. The
// variance comes back from the half-width load.MeanCI95 wrote:
// half = t₀.₉₇₅(n−1)·sd/√n.
func modeRepetitions(values map[string]any, name string) (sample, bool) {
	m, okMean := number(values[name+"_mean"])
	high, okHigh := number(values[name+"_ci95_high"])
	n := modeN(values, name)
	if !okMean || !okHigh || n < 2 || high < m {
		return sample{}, false
	}
	half := high - m
	low := m - half
	if v, ok := number(values[name+"_ci95_low"]); ok {
		low = v
	}
	sd := half * math.Sqrt(float64(n)) / load.StudentT975(n-1)
	return sample{mean: m, variance: sd * sd, n: n, ci: &CI{Low: low, High: high}, oneHost: true}, true
}

// modeN is the repetitions <p>_n of the mode p that name (p_rest) belongs
// to, the longest such p; 0 when there is none.
func modeN(values map[string]any, name string) int {
	for i := len(name) - 1; i > 0; i-- {
		if name[i] != '_' {
			continue
		}
		if v, ok := number(values[name[:i]+"_n"]); ok && v == math.Trunc(v) && v >= 0 && v < math.MaxInt32 {
			return int(v)
		}
	}
	return 0
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

func compareRow(study, key string, m Metric, bs, ns sample, threshold float64) Row {
	row := Row{Study: study, Point: key, Metric: m.Name, Higher: m.Higher, Base: bs.mean, New: ns.mean,
		BaseN: bs.n, NewN: ns.n, BaseCI: bs.ci, NewCI: ns.ci}
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
	var notes []string
	switch {
	case bs.n > 1 && ns.n > 1:
		w := welch(bs, ns)
		row.Welch = &w
		significant = w.Significant
	case bs.n == 1 && ns.n > 1:
		notes = append(notes, "one base sample: no test, threshold only")
	case bs.n > 1 && ns.n == 1:
		notes = append(notes, "one new sample: no test, threshold only")
	}
	switch {
	case bs.oneHost && ns.oneHost:
		notes = append(notes, "n counts a mode's repetitions on one server: within-server noise, not server-to-server")
	case bs.oneHost:
		notes = append(notes, "base n counts a mode's repetitions on one server: within-server noise, not server-to-server")
	case ns.oneHost:
		notes = append(notes, "new n counts a mode's repetitions on one server: within-server noise, not server-to-server")
	}
	row.Note = strings.Join(notes, "; ")
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

func variance(xs []float64, m float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return s / float64(len(xs)-1)
}

// welch runs Welch's unequal-variance t-test on the summaries a and b
// (each n ≥ 2): t = (mb − ma)/√(va/na + vb/nb), df by Welch–Satterthwaite.
func welch(a, b sample) Welch {
	ma, mb := a.mean, b.mean
	va, vb := a.variance/float64(a.n), b.variance/float64(b.n)
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
		return Welch{T: t, DF: float64(a.n + b.n - 2), Significant: ma != mb}
	}
	t := (mb - ma) / math.Sqrt(se)
	df := se * se / (va*va/float64(a.n-1) + vb*vb/float64(b.n-1))
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
