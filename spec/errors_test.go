package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestDidYouMeanSuggestsACloseCandidateOrNothing(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{"timout", `timeout`}, {"comand", "command"}, {"wait-redy", "wait-ready"}, {"zzz", ""},
	} {
		s := DidYouMean(tc.got, []string{"timeout", "command", "wait-ready", "launch"})
		if (tc.want == "" && s != "") || (tc.want != "" && !strings.Contains(s, `"`+tc.want+`"`)) {
			t.Errorf("%s: %q", tc.got, s)
		}
	}
}

func TestProblemsReportsEveryFieldNestedUnderItsPrefix(t *testing.T) {
	var inner Problems
	inner.Add("rate", "must be > 0")
	inner.Add("", "requests or duration is required")
	var p Problems
	p.Add("api", "bad")
	p.Nest("modes[1]", inner.Err())
	p.Nest("prompts", errors.New("plain"))
	var fields []string
	for _, e := range SplitErrors(p.Err()) {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%T is not a *FieldError", e)
		}
		fields = append(fields, fe.Field)
	}
	if got := strings.Join(fields, " "); got != "api modes[1].rate modes[1] prompts" {
		t.Errorf("fields %q", got)
	}
	if n := strings.Count(p.Err().Error(), "\n"); n != 3 {
		t.Errorf("want one problem per line: %q", p.Err())
	}
	var none Problems
	if none.Err() != nil {
		t.Error("no problems must be a nil error")
	}
}

func TestMergeFieldsPositionsEachProblemAtItsField(t *testing.T) {
	var p Problems
	p.Add("port", "bad port")
	p.Add("log", "bad log")
	var l ErrorList
	l.MergeFields(Pos{File: "f", Line: 1}, "with", p.Err(), func(field string) Pos {
		return Pos{File: "f", Line: map[string]int{"port": 3, "log": 5}[field]}
	})
	if len(l) != 2 || l[0].Pos.Line != 3 || l[0].Path != "with.port" || l[1].Pos.Line != 5 || l[1].Path != "with.log" {
		t.Errorf("%v", l)
	}
}
