package artifact

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// repeatSuffixes name the statistics a folded row holds beside each
// number: the mean and the ends of its 95 % Student-t interval.
var repeatSuffixes = []string{"_mean", "_ci95_low", "_ci95_high"}

// IsStatName reports whether name is one aggregate: repeat adds ("n" or a
// statistic of another name), and base is the name it is a statistic of.
func IsStatName(name string) (base string, ok bool) {
	if name == "n" {
		return "", true
	}
	for _, s := range repeatSuffixes {
		if b, found := strings.CutSuffix(name, s); found && b != "" {
			return b, true
		}
	}
	return "", false
}

// foldRepeats folds the repetitions of each point into one row: rows with
// the same values of axes (the sweep axes other than repeat) and the same
// place among their point's rows (a table's k-th row, e.g. its k-th mode)
// are one group, in order of first appearance. A group's row is its first
// ok row (its first row when none is ok) without the repeat column, with
// n = the number of ok rows and, for each column that is a number in every
// ok row, the mean (under the plain name and <name>_mean) and, for n ≥ 2,
// the 95 % Student-t interval of the mean (<name>_ci95_low, _ci95_high;
// load.MeanCI95). Failed repetitions are named in error, and the row is
// failed only when no repetition is ok. Without a repeat column every
// group is one row, so the columns do not depend on N.
//
// Rows that hold statistics already (a repeated mode's summary: n, and
// <m>_mean with its interval over the mode's repetitions in one server)
// are folded so that every number stays what its name says: the
// repetitions' <m>_mean values are the sample, <m>_mean is their mean and
// <m>_ci95_low/high their interval (a mean of interval ends is no
// interval; the inner ones are dropped, and with one repetition left
// empty); the mode's own n is carried as mode_n.
func foldRepeats(rows []results.Row, columns, axes []string) ([]results.Row, []string) {
	type group struct{ rows []results.Row }
	var groups []*group
	index := map[string]*group{}
	seenOfPoint := map[string]int{}
	for _, r := range rows {
		parts := make([]string, 0, len(axes)+1)
		for _, ax := range axes {
			parts = append(parts, cell(r[ax]))
		}
		base := strings.Join(parts, "\x00")
		pt := cell(r["point"])
		parts = append(parts, fmt.Sprint(seenOfPoint[base+"\x01"+pt]))
		seenOfPoint[base+"\x01"+pt]++
		key := strings.Join(parts, "\x00")
		g := index[key]
		if g == nil {
			g = &group{}
			index[key] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, r)
	}
	skip := map[string]bool{"point": true, spec.RepeatAxis: true, "n": true, "status": true, "phase": true, "error": true}
	for _, ax := range axes {
		skip[ax] = true
	}
	// sampled: the bases b whose b_mean is a column: b_mean is their sample.
	sampled := map[string]bool{}
	for _, c := range columns {
		if b, ok := strings.CutSuffix(c, "_mean"); ok && b != "" && !skip[c] {
			sampled[b] = true
		}
	}
	got := map[string]bool{} // the columns that got statistics
	out := make([]results.Row, len(groups))
	for gi, g := range groups {
		var okRows []results.Row
		var failed []string
		for _, r := range g.rows {
			if st, has := r["status"]; !has || st == "ok" {
				okRows = append(okRows, r)
			} else {
				failed = append(failed, fmt.Sprintf("repeat %s: %s %s", cell(r[spec.RepeatAxis]), cell(st), cell(r["error"])))
			}
		}
		first := g.rows[0]
		if len(okRows) > 0 {
			first = okRows[0]
		}
		row := results.Row{}
		for k, v := range first {
			switch {
			case k == spec.RepeatAxis:
			case k == "n":
				row[ModeN] = v
			case isIntervalName(k):
				// an inner interval: recomputed below, or left empty
			default:
				row[k] = v
			}
		}
		row["n"] = len(okRows)
		if len(okRows) > 0 && len(failed) > 0 {
			row["error"] = fmt.Sprintf("%d of %d repetitions failed: %s", len(failed), len(g.rows), strings.Join(failed, "; "))
		}
		for _, c := range columns {
			if skip[c] || len(okRows) == 0 || isIntervalName(c) {
				continue
			}
			xs := make([]float64, 0, len(okRows))
			for _, r := range okRows {
				if isNumber(r[c]) {
					xs = append(xs, num(r[c]))
				}
			}
			if len(xs) != len(okRows) {
				continue
			}
			mean, half := load.MeanCI95(xs)
			row[c] = mean
			base, isMean := strings.CutSuffix(c, "_mean")
			switch {
			case isMean && base != "":
				// the sample of base: its interval over the repetitions
				if len(xs) > 1 {
					row[base+"_ci95_low"], row[base+"_ci95_high"] = mean-half, mean+half
				}
				got[c] = true
				continue
			case sampled[c]:
				continue // its statistics come from its _mean column
			}
			row[c+"_mean"] = mean
			if len(xs) > 1 {
				row[c+"_ci95_low"], row[c+"_ci95_high"] = mean-half, mean+half
			}
			got[c] = true
		}
		out[gi] = row
	}
	// n follows the point's name: its last axis, else its id.
	after := "point"
	for _, ax := range axes {
		if slices.Contains(columns, ax) {
			after = ax
		}
	}
	var cols []string
	if !slices.Contains(columns, after) {
		cols = append(cols, "n")
	}
	for _, c := range columns {
		switch {
		case c == spec.RepeatAxis:
			continue
		case c == "n":
			cols = append(cols, ModeN)
			continue
		}
		cols = append(cols, c)
		if c == after {
			cols = append(cols, "n")
		}
		if !got[c] {
			continue
		}
		if base, isMean := strings.CutSuffix(c, "_mean"); isMean && base != "" {
			cols = append(cols, base+"_ci95_low", base+"_ci95_high")
		} else {
			cols = append(cols, results.Prefixed(c, repeatSuffixes...)...)
		}
	}
	return out, uniq(cols)
}

// ModeN is the folded name of a row's own n (a repeated mode's
// repetitions in one server): n is the fold's.
const ModeN = "mode_n"

// isIntervalName reports whether name is an end of a 95 % interval.
func isIntervalName(name string) bool {
	return strings.HasSuffix(name, "_ci95_low") || strings.HasSuffix(name, "_ci95_high")
}

// uniq drops the later copies of repeated names, keeping the order.
func uniq(names []string) []string {
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// isNumber reports whether x is a number, or text that is one (what an
// exec step records from its output).
func isNumber(x any) bool {
	switch v := x.(type) {
	case int, int32, int64, uint, uint32, uint64, float32, float64:
		return true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && finite(f)
	}
	return false
}
