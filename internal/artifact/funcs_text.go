package artifact

import (
	"math"
	"strings"
)

// textFuncs are the template helpers that word numbers for a reader: a
// value with its unit, or n/a when it was not measured; a range that
// collapses to one value when its ends are equal.
//
//	withunit X PREC UNIT       "45 W", "45%" (a unit starting with % is not spaced), or "n/a"
//	span XS PREC               "174400" when every value is equal, else "170064–174400"
func textFuncs() map[string]any {
	return map[string]any{
		"withunit": withUnit,
		"span":     span,
	}
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
