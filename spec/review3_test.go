package spec

import (
	"testing"
)

// TestReview3YAMLSyntaxErrorLineNoTrailingNewline: the same parser error as
// TestReview2YAMLSyntaxErrorLine (an unquoted ${d} in a flow mapping on line
// 6), in a file whose last line has no final newline, as editors often save
// it. yamlSyntaxError clamps the corrected line to the number of "\n" in
// the file (spec.go: min(line+1, max(bytes.Count(data, "\n"), 1))), which
// is one less than the number of lines when the last line is unterminated,
// so the error is reported at line 5. Correct: line 6.
func TestReview3YAMLSyntaxErrorLineNoTrailingNewline(t *testing.T) {
	src := "version: runexp/v1\nname: x\nstudies:\n  - name: s\n    steps:\n      - {type: sleep, with: {duration: ${d}}}"
	_, err := Parse("f.yaml", []byte(src))
	list, ok := err.(ErrorList)
	if !ok || len(list) != 1 {
		t.Fatalf("want one syntax error, got %v", err)
	}
	if list[0].Pos.Line != 6 {
		t.Errorf("syntax error reported at line %d, want 6: %v", list[0].Pos.Line, list[0])
	}
}

// TestReview3SweepLargeIntsDistinct: valueKey (spec/sweep.go) compares
// numeric axis values after decoding them into a float64, so two different
// integers above 2^53 (e.g. seeds) get the same key: the axis is rejected
// with "duplicate value", and an exclude entry naming one of them would drop
// the other as well. Correct: distinct integers are distinct values (only
// numerically equal spellings such as 0.9 and 0.90 collide).
func TestReview3SweepLargeIntsDistinct(t *testing.T) {
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
