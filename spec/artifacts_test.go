package spec

import (
	"strings"
	"testing"
)

func TestArtifactPathNamesAFile(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var as []Artifact
	if errs := d.Decode(node(t, "[{path: ., format: csv}, {path: sub/, format: csv}, {path: a.csv, format: csv}, {path: ./a.csv, format: csv}]"), "artifacts", &as); errs != nil {
		t.Fatal(errs)
	}
	errs := CheckArtifacts(d, "artifacts", as)
	want := []string{`artifacts[0].path: "." names a folder`, `artifacts[1].path: "sub/" names a folder`, `artifacts[3].path: duplicate artifact path "./a.csv"`}
	if len(errs) != len(want) {
		t.Fatalf("got %v, want %d problems", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("problem %d: %v, want %q", i, errs[i], w)
		}
	}
}

// TestScalarArtifactErrorsArePositioned: an artifact written as a scalar
// (`- points.csv`) is reported at its line, and so is every problem that
// follows from it.
func TestScalarArtifactErrorsArePositioned(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var arts []Artifact
	errs := d.Decode(node(t, "- points.csv\n"), "artifacts", &arts)
	errs = append(errs, CheckArtifacts(d, "artifacts", arts)...)
	if len(errs) == 0 {
		t.Fatal("a scalar artifact accepted")
	}
	for _, e := range errs {
		if e.Pos.Line == 0 {
			t.Errorf("error without file:line:col: %q", e.Error())
		}
	}
}
