package spec

import (
	"math"
	"testing"
)

// Count gives the number of points Expand would give (product, zip groups,
// overlapping and non-matching exclude entries) without expanding.
func TestSweepCountEqualsTheExpandedPointsWithoutExpanding(t *testing.T) {
	for _, src := range []string{
		`axes: {n: [1, 2, 3]}`,
		`axes: {a: [x, y], b: [1, 2], c: [p, q, r]}`,
		`{axes: {ctx: [512, 1024, 2048], mem: [1, 2, 3], p: [1, 4]}, zip: [[ctx, mem]]}`,
		`{axes: {a: [x, y], b: [1, 2]}, exclude: [{a: x, b: 2}]}`,
		`{axes: {a: [x, y], b: [1, 2], c: [1, 2, 3]}, exclude: [{a: x}, {b: 2}, {a: x, b: 2}, {c: 3, a: y}]}`,
		`{axes: {u: [0.9, 1]}, exclude: [{u: 1.0}, {u: 0.90}]}`,
		`{axes: {ctx: [512, 1024], mem: [1, 2], p: [1, 4]}, zip: [[ctx, mem]], exclude: [{ctx: 512, mem: 2}, {ctx: 1024, p: 4}]}`,
		`{axes: {a: [x, y]}, exclude: [{a: x}, {a: y}]}`,
	} {
		d := &Decoder{File: "f.yaml"}
		var s Sweep
		_ = d.Decode(node(t, src), "sweep", &s) // excludes of nothing are reported, and still counted
		got, ok := s.Count()
		if want := len(s.Expand()); !ok || got != want {
			t.Errorf("%s: Count() = %d, %v; Expand gives %d points", src, got, ok, want)
		}
	}
	var nilSweep *Sweep
	if n, ok := nilSweep.Count(); n != 1 || !ok {
		t.Errorf("nil sweep: Count() = %d, %v; want 1 point", n, ok)
	}
}

// A product beyond an int is reported as not fitting, never wrapped round
// to a small (or negative) count.
func TestSweepCountReportsAProductBeyondAnInt(t *testing.T) {
	var s Sweep
	values := make([]Axis, 0, 10)
	for i := 0; i < 10; i++ {
		ax := Axis{Name: string(rune('a' + i))}
		for j := 0; j < 100; j++ {
			ax.Values = append(ax.Values, node(t, "1"))
		}
		values = append(values, ax)
	}
	s.Axes = values // 100^10 = 1e20 points
	if n, ok := s.Count(); ok {
		t.Errorf("Count() = %d, true; want false (1e20 > %d)", n, math.MaxInt)
	}
}
