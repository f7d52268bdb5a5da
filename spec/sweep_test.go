package spec

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSweepExpandsProductZipAndExcludeWithStableIDs(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // labels
		ids       []string
	}{
		{"one axis", `axes: {n: [1, 2, 3]}`, []string{"n=1", "n=2", "n=3"}, []string{"000", "001", "002"}},
		{"product, first slowest", `axes: {a: [x, y], b: [1, 2]}`, []string{"a=x b=1", "a=x b=2", "a=y b=1", "a=y b=2"}, nil},
		{"zip advances together", `{axes: {ctx: [512, 1024], mem: [1, 2], p: [1, 4]}, zip: [[ctx, mem]]}`,
			[]string{"ctx=512 mem=1 p=1", "ctx=512 mem=1 p=4", "ctx=1024 mem=2 p=1", "ctx=1024 mem=2 p=4"}, nil},
		{"exclude keeps stable ids", `{axes: {a: [x, y], b: [1, 2]}, exclude: [{a: x, b: 2}]}`,
			[]string{"a=x b=1", "a=y b=1", "a=y b=2"}, []string{"000", "002", "003"}},
		{"exclude matches numbers by value", `{axes: {u: [0.9, 1]}, exclude: [{u: 1.0}, {u: 0.90}]}`, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Decoder{File: "f.yaml"}
			var s Sweep
			if errs := d.Decode(node(t, tc.src), "sweep", &s); errs != nil {
				t.Fatal(errs)
			}
			pts := s.Expand()
			var got, ids []string
			for _, p := range pts {
				got = append(got, p.Label())
				ids = append(ids, p.ID())
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.ids != nil && strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
				t.Errorf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
}

func TestSlugIsFilesystemSafe(t *testing.T) {
	p := Point{Index: 7, Values: []AxisValue{{"model", &yaml.Node{Kind: yaml.ScalarNode, Value: "microsoft/Phi-3 mini"}}}}
	if got := p.Slug(); got != "007_model-microsoft_Phi-3_mini" {
		t.Errorf("slug %q", got)
	}
}

func TestSweepValuesCompareAsNumbers(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var s Sweep
	errs := d.Decode(node(t, "{axes: {u: [0.9, 0.90, 1]}, exclude: [{}]}"), "sweep", &s)
	want := []string{"sweep.axes.u[1]: duplicate value 0.90", "sweep.exclude[0]: empty entry"}
	if len(errs) != len(want) {
		t.Fatalf("got %v, want %d problems", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("problem %d: %v, want %q", i, errs[i], w)
		}
	}
}

// TestSweepLargeIntegersAreDistinctValues: integers above 2^53 (seeds, say)
// that differ are different values, though they round to the same float64;
// only numerically equal spellings such as 0.9 and 0.90 collide.
func TestSweepLargeIntegersAreDistinctValues(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var s Sweep
	errs := d.Decode(node(t, "{axes: {seed: [12345678901234567, 12345678901234568]}}"), "sweep", &s)
	if errs != nil {
		t.Fatalf("two different integers rejected: %v", errs)
	}
	if n := len(s.Expand()); n != 2 {
		t.Errorf("%d points, want 2", n)
	}
}

// TestZipOfUnequalLengthsIsReportedAndExpandStaysSafe: the decoder reports
// zipped axes of unequal length, and Expand, which the planner calls
// regardless, does not panic on them.
func TestZipOfUnequalLengthsIsReportedAndExpandStaysSafe(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var s Sweep
	errs := d.Decode(node(t, `{axes: {a: [1, 2, 3], b: [x, y]}, zip: [[a, b]]}`), "sweep", &s)
	if len(errs) == 0 {
		t.Fatal("expected an unequal-length error")
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Expand panicked after a reported zip error: %v", r)
		}
	}()
	s.Expand()
}

func TestSweepRejectsADuplicateAxisName(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var s Sweep
	errs := d.Decode(node(t, "axes:\n  a: [1, 2]\n  a: [3, 4]\n"), "sweep", &s)
	if len(errs) == 0 {
		t.Fatalf("duplicate axis accepted; %d points: %v", len(s.Expand()), s.Expand()[0].Label())
	}
}
