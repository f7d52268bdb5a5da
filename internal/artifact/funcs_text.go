package artifact

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/results"
)

// textFuncs are the template helpers that word numbers for a reader: a
// value with its unit, or n/a when it was not measured; a range that
// collapses to one value when its ends are equal.
//
//	withunit X PREC UNIT       "45 W", "45%" (a unit starting with % is not spaced), or "n/a"
//	span XS PREC               "174400" when every value is equal, else "170064–174400"
//	repmean ROW METRIC         ROW's METRIC, or its <METRIC>_mean when ROW summarises repetitions (n > 1)
//	ratioci A B METRIC PREC UNIT  A's METRIC over B's: "4.6×"; for repeated modes (n > 1)
//	                           the ratio of the means with its 95 % CI: "4.6× (95 % CI 4.2–5.0, n=5)"
//	meanci ROW METRIC PREC UNIT   ROW's METRIC with its unit; for a row folded from repetitions
//	                           (n > 1) the mean with its 95 % CI: "31.2 s (95 % CI 30.1–32.3, n=3)"
func textFuncs() map[string]any {
	return map[string]any{
		"withunit": withUnit,
		"span":     span,
		"ratioci":  ratioCI,
		"repmean":  repMean,
		"meanci":   meanCI,
	}
}

// repetitions is a load.summary row's n: how many repetitions it
// summarises, 0 for a mode not repeated.
func repetitions(r results.Row) int {
	n := num(r["n"])
	if !finite(n) || n < 0 {
		return 0
	}
	return int(n)
}

// repMean is a row's metric, its mean over repetitions when the row
// summarises a repeated mode: the pooled duration of N repetitions spans
// them all, so only the mean compares with a mode run once.
func repMean(r results.Row, metric string) any {
	if repetitions(r) > 1 {
		if v, ok := r[metric+"_mean"]; ok {
			return v
		}
	}
	return r[metric]
}

// ratioCI words a/b of a metric of two load.summary rows. When both rows
// summarise repeated modes (n > 1, with <metric>_mean and _ci95_high) it
// is the ratio of the means with a 95 % interval by the delta method on
// the log ratio: se² = (se_a/mean_a)² + (se_b/mean_b)², each se recovered
// from its row's Student-t half-width, Welch-Satterthwaite degrees of
// freedom; the interval is ratio·exp(±t·se), so it stays positive and
// asymmetric as a ratio's should. Otherwise it is the plain ratio, as
// ratio prints it, followed by unit.
func ratioCI(a, b results.Row, metric string, prec int, unit string) string {
	na, nb := repetitions(a), repetitions(b)
	ma, mb := num(a[metric+"_mean"]), num(b[metric+"_mean"])
	ha, hb := num(a[metric+"_ci95_high"]), num(b[metric+"_ci95_high"])
	if na < 2 || nb < 2 || !(ma > 0) || !(mb > 0) || !finite(ha) || !finite(hb) {
		x, y := num(a[metric]), num(b[metric])
		if y == 0 || math.IsNaN(x) || math.IsNaN(y) {
			return "n/a" + unit
		}
		return trimFloat(x/y, prec) + unit
	}
	relA := (ha - ma) / load.StudentT975(na-1) / ma
	relB := (hb - mb) / load.StudentT975(nb-1) / mb
	r := ma / mb
	se := math.Hypot(relA, relB)
	lo, hi := r, r
	if se > 0 {
		df := math.Pow(se, 4) / (math.Pow(relA, 4)/float64(na-1) + math.Pow(relB, 4)/float64(nb-1))
		t := load.StudentT975(max(1, int(df))) // rounded down: the wider interval
		lo, hi = r*math.Exp(-t*se), r*math.Exp(t*se)
	}
	n := strconv.Itoa(na)
	if na != nb {
		n = fmt.Sprintf("%d and %d", na, nb)
	}
	fixed := func(x float64) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	return fmt.Sprintf("%s%s (95 %% CI %s–%s, n=%s)", fixed(r), unit, fixed(lo), fixed(hi), n)
}

// meanCI words a row's metric: its mean with the 95 % interval when the
// row folds repetitions (n > 1, <metric>_ci95_low and _high present),
// else the value as withunit words it.
func meanCI(r results.Row, metric string, prec int, unit string) string {
	n := repetitions(r)
	lo, hi := num(r[metric+"_ci95_low"]), num(r[metric+"_ci95_high"])
	if n < 2 || !finite(lo) || !finite(hi) {
		return withUnit(repMean(r, metric), prec, unit)
	}
	fixed := func(x float64) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	return fmt.Sprintf("%s (95 %% CI %s–%s, n=%d)", withUnit(repMean(r, metric), prec, unit), fixed(lo), fixed(hi), n)
}

func withUnit(x any, prec int, unit string) string {
	v := num(x)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := trimFloat(v, prec)
	switch {
	case unit == "":
		return s
	case strings.HasPrefix(unit, "%"):
		return s + unit
	}
	return s + " " + unit
}

func span(xs []any, prec int) string {
	lo, hi := reduce(xs, math.Min), reduce(xs, math.Max)
	if math.IsNaN(lo) {
		return "n/a"
	}
	a, b := trimFloat(lo, prec), trimFloat(hi, prec)
	if a == b {
		return a
	}
	return a + "–" + b
}
