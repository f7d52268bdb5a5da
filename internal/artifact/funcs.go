package artifact

import (
	"fmt"
	"math"
	"strconv"
	"text/template"

	"github.com/runexp/runexp/internal/results"
)

// TemplateFuncs are the functions markdown templates can use, beside
// text/template's own. Numbers are taken loosely (int, float, numeric
// strings); a missing value is NaN and renders as "n/a".
//
//	col ROWS "name"            values of one column
//	where ROWS "k" VALUE       rows whose k equals VALUE
//	ok ROWS                    rows whose status is ok
//	fit XS YS                  least-squares line: .Slope .Intercept .R2 .N
//	num X, f X PREC            number; formatted with PREC decimals
//	add/sub/mul/div A B        arithmetic (div by 0 is NaN)
//	minf/maxf/meanf XS         over a column
//	first/last XS              ends of a column
//	row ROWS KEY VALUE         the first row with KEY = VALUE, or nil
//	ratio A B PREC             A/B formatted, e.g. "3.2"
//	mib BYTES, gib BYTES       bytes as MiB / GiB numbers
//	keys MAP                   sorted keys
//	withunit, span             see textFuncs
func TemplateFuncs() template.FuncMap {
	fm := template.FuncMap{
		"col":   col,
		"where": where,
		// row returns the first row whose key equals value, or nil (false
		// in an if), so a template can test for a missing mode.
		"row": func(rows []results.Row, key string, value any) results.Row {
			if r := where(rows, key, value); len(r) > 0 {
				return r[0]
			}
			return nil
		},
		"ok": func(rows []results.Row) []results.Row {
			return where(rows, "status", "ok")
		},
		"fit": fit,
		"num": num,
		"f": func(x any, prec int) string {
			v := num(x)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "n/a"
			}
			return trimFloat(v, prec)
		},
		"add": func(a, b any) float64 { return num(a) + num(b) },
		"sub": func(a, b any) float64 { return num(a) - num(b) },
		"mul": func(a, b any) float64 { return num(a) * num(b) },
		"div": func(a, b any) float64 {
			if num(b) == 0 {
				return math.NaN()
			}
			return num(a) / num(b)
		},
		"ratio": func(a, b any, prec int) string {
			if num(b) == 0 || math.IsNaN(num(a)) || math.IsNaN(num(b)) {
				return "n/a"
			}
			return trimFloat(num(a)/num(b), prec)
		},
		"minf":  func(xs []any) float64 { return reduce(xs, math.Min) },
		"maxf":  func(xs []any) float64 { return reduce(xs, math.Max) },
		"meanf": meanf,
		"first": func(xs []any) any {
			if len(xs) == 0 {
				return nil
			}
			return xs[0]
		},
		"last": func(xs []any) any {
			if len(xs) == 0 {
				return nil
			}
			return xs[len(xs)-1]
		},
		"mib":  func(x any) float64 { return num(x) / (1 << 20) },
		"gib":  func(x any) float64 { return num(x) / (1 << 30) },
		"keys": results.SortedKeys[any],
		"isnan": func(x any) bool {
			v := num(x)
			return math.IsNaN(v)
		},
	}
	for name, fn := range textFuncs() {
		fm[name] = fn
	}
	return fm
}

func col(rows []results.Row, name string) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r[name]
	}
	return out
}

func where(rows []results.Row, key string, value any) []results.Row {
	var out []results.Row
	for _, r := range rows {
		if fmt.Sprint(r[key]) == fmt.Sprint(value) {
			out = append(out, r)
		}
	}
	return out
}

func num(x any) float64 {
	switch v := x.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case uint64:
		return float64(v)
	case uint32:
		return float64(v)
	case uint:
		return float64(v)
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err == nil {
			return f
		}
	case bool:
		if v {
			return 1
		}
		return 0
	}
	return math.NaN()
}

func reduce(xs []any, op func(a, b float64) float64) float64 {
	acc := math.NaN()
	for _, x := range xs {
		v := num(x)
		if math.IsNaN(v) {
			continue
		}
		if math.IsNaN(acc) {
			acc = v
		} else {
			acc = op(acc, v)
		}
	}
	return acc
}

func meanf(xs []any) float64 {
	sum, n := 0.0, 0
	for _, x := range xs {
		v := num(x)
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Fit is a least-squares line.
type Fit struct {
	Slope, Intercept, R2 float64
	N                    int
}

// fit ignores pairs where either value is missing.
func fit(xs, ys []any) Fit {
	var x, y []float64
	for i := range xs {
		if i >= len(ys) {
			break
		}
		a, b := num(xs[i]), num(ys[i])
		if math.IsNaN(a) || math.IsNaN(b) {
			continue
		}
		x = append(x, a)
		y = append(y, b)
	}
	n := float64(len(x))
	f := Fit{N: len(x), Slope: math.NaN(), Intercept: math.NaN(), R2: math.NaN()}
	if len(x) < 2 {
		return f
	}
	var sx, sy, sxx, sxy, syy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
		syy += y[i] * y[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return f
	}
	f.Slope = (n*sxy - sx*sy) / den
	f.Intercept = (sy - f.Slope*sx) / n
	ssTot := syy - sy*sy/n
	if ssTot == 0 {
		f.R2 = 1
		return f
	}
	var ssRes float64
	for i := range x {
		r := y[i] - (f.Slope*x[i] + f.Intercept)
		ssRes += r * r
	}
	f.R2 = 1 - ssRes/ssTot
	return f
}
