package spec

import "testing"

// TestStepIDDefaultingToItsTypeCollidesWithAnExplicitID: a step's id
// defaults to its type, so it can clash with another step's explicit id;
// CheckSteps reports the duplicate.
func TestStepIDDefaultingToItsTypeCollidesWithAnExplicitID(t *testing.T) {
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

// TestScalarStepErrorsArePositioned: a step written as a scalar (`- sleep`)
// is reported at its line, and so is every problem that follows from it.
func TestScalarStepErrorsArePositioned(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var list []Step
	errs := d.Decode(node(t, "- sleep\n"), "steps", &list)
	errs = append(errs, CheckSteps(d, "steps", list)...)
	if len(errs) == 0 {
		t.Fatal("a scalar step accepted")
	}
	for _, e := range errs {
		if e.Pos.Line == 0 {
			t.Errorf("error without file:line:col: %q", e.Error())
		}
	}
}
