package spec

import "testing"

// Regression (found in review, fixed): Zipped axes of unequal length are reported by UnmarshalSpec, but Expand
// (which the planner calls regardless) must not panic.
func TestZipUnequalLengthsExpandIsSafe(t *testing.T) {
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

// Regression (found in review, fixed): Duplicate keys in the spec are silently accepted (last one wins) although
// the decoder is documented as strict.
func TestDuplicateKeyRejected(t *testing.T) {
	src := `version: runexp/v1
name: x
studies:
  - name: s
    name: t
    steps: [{type: sleep}]
`
	_, err := Parse("f.yaml", []byte(src))
	if err == nil {
		t.Fatal("duplicate key `name` in a study accepted without error")
	}
}

func TestDuplicateAxisNameRejected(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var s Sweep
	errs := d.Decode(node(t, "axes:\n  a: [1, 2]\n  a: [3, 4]\n"), "sweep", &s)
	if len(errs) == 0 {
		t.Fatalf("duplicate axis accepted; %d points: %v", len(s.Expand()), s.Expand()[0].Label())
	}
}

// Regression (found in review, fixed): A step whose id defaults to its type collides with an explicit id of
// another step; CheckSteps must report the duplicate.
func TestDefaultIDCollisionReported(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var list []Step
	if errs := d.Decode(node(t, "- {id: sleep, type: exec}\n- {type: sleep}\n"), "steps", &list); errs != nil {
		t.Fatal(errs)
	}
	errs := CheckSteps(d, "steps", list)
	if len(errs) == 0 {
		t.Fatalf("two steps with id %q accepted: %q and %q", list[0].ID, list[0].Type, list[1].Type)
	}
}

// Regression (found in review, fixed): A step or artifact written as a scalar (`- sleep`, `- points.csv`) gets the
// decode error at its line, plus cascaded "missing" errors with no position
// at all: they print as ": studies[0].steps[0].type: missing".
func TestScalarStepOrArtifactErrorsArePositioned(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var list []Step
	errs := d.Decode(node(t, "- sleep\n"), "steps", &list)
	errs = append(errs, CheckSteps(d, "steps", list)...)
	var arts []Artifact
	errs = append(errs, d.Decode(node(t, "- points.csv\n"), "artifacts", &arts)...)
	errs = append(errs, CheckArtifacts(d, "artifacts", arts)...)
	for _, e := range errs {
		if e.Pos.Line == 0 {
			t.Errorf("error without file:line:col: %q", e.Error())
		}
	}
}
