package spec

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type color string

func (color) Values() []string { return []string{"red", "green"} }

type shade string

func (shade) Values() []string    { return []string{"dark"} }
func (shade) Match(s string) bool { return strings.EqualFold(s, "dark") }

func TestDecoderRejectsValueOutsideEnumAtItsKeyWithDidYouMean(t *testing.T) {
	var v struct {
		A color `yaml:"a"`
		B color `yaml:"b"`
	}
	v.A = "red"
	errs := (&Decoder{File: "f.yaml"}).Decode(node(t, "a: gren\nb: green\n"), "with", &v)
	if len(errs) != 1 {
		t.Fatalf("want one problem, got %v", errs)
	}
	want := `f.yaml:1:4: with.a: "gren" is not one of red, green (did you mean "green"?)`
	if errs[0].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[0], want)
	}
	if v.A != "red" || v.B != "green" {
		t.Errorf("a rejected value must leave the default: a=%q b=%q", v.A, v.B)
	}
}

func TestDecoderAcceptsEveryEnumMatcherSpelling(t *testing.T) {
	var v struct {
		S shade `yaml:"s"`
	}
	if errs := (&Decoder{}).Decode(node(t, "s: DARK"), "", &v); errs != nil || v.S != "DARK" {
		t.Fatalf("%v %q", errs, v.S)
	}
}

func TestDecoderReadsTimeDurationAsADuration(t *testing.T) {
	var v struct {
		D time.Duration `yaml:"d"`
	}
	if errs := (&Decoder{}).Decode(node(t, "d: 90s"), "", &v); errs != nil || v.D.String() != "1m30s" {
		t.Fatalf("%v %v", errs, v.D)
	}
	if errs := (&Decoder{}).Decode(node(t, "d: 90"), "", &v); len(errs) != 1 || !strings.Contains(errs[0].Msg, "expected a duration") {
		t.Fatalf("%v", errs)
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
