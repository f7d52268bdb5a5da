package spec

import (
	"strings"
	"testing"
)

func TestListVarReportsEveryNonScalarItem(t *testing.T) {
	errs := checkVarValue(&Decoder{File: "f"}, node(t, "[a, [b], {c: 1}]"), "vars.x")
	if len(errs) != 2 || errs[0].Path != "vars.x[1]" || errs[1].Path != "vars.x[2]" {
		t.Errorf("%v", errs)
	}
}

// TestSelectVarRejectsADuplicateCase: the cases of a select var are keys like
// any other; a copy-pasted case is reported at the second one rather than
// silently replacing the first.
func TestSelectVarRejectsADuplicateCase(t *testing.T) {
	list := parseBadFixture(t, "select-duplicate-case")
	want := badFixture("select-duplicate-case") + ":9:7"
	if !strings.Contains(list.Error(), want) || !strings.Contains(list.Error(), "duplicate key") {
		t.Fatalf("duplicate case key vllm (line 9) not reported at %s; got %v", want, list)
	}
}

// TestSelectOfAnUnknownVarIsReportedAtTheSelectValue: the problem is the
// value of `select:`, so it is positioned there, not at the var's key.
func TestSelectOfAnUnknownVarIsReportedAtTheSelectValue(t *testing.T) {
	list := parseBadFixture(t, "select-unknown-var")
	for _, e := range list {
		if e.Path == "vars.server.select" {
			if e.Pos.Line != 5 || e.Pos.Col != 13 {
				t.Errorf("vars.server.select error at %d:%d, want 5:13 (the select value): %v", e.Pos.Line, e.Pos.Col, e)
			}
			return
		}
	}
	t.Fatalf("no vars.server.select error in %v", list)
}
