package spec

import "testing"

func TestListVarReportsEveryNonScalarItem(t *testing.T) {
	errs := checkVarValue(&Decoder{File: "f"}, node(t, "[a, [b], {c: 1}]"), "vars.x")
	if len(errs) != 2 || errs[0].Path != "vars.x[1]" || errs[1].Path != "vars.x[2]" {
		t.Errorf("%v", errs)
	}
}
