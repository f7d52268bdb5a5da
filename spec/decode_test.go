package spec

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// node parses src and returns its document's top node.
func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestDecoderReportsEveryWrongFieldAtItsKeyAndDecodesTheRest(t *testing.T) {
	type inner struct {
		Name  string   `yaml:"name"`
		Count int      `yaml:"count"`
		Rate  float64  `yaml:"rate"`
		On    bool     `yaml:"on"`
		Wait  Duration `yaml:"wait"`
		Tags  []string `yaml:"tags"`
	}
	type outer struct {
		Inner inner            `yaml:"inner"`
		Map   map[string]inner `yaml:"map"`
		Any   any              `yaml:"any"`
	}
	src := `inner: {name: a, count: x, rate: 1, on: yes, wait: 5, tags: b, extra: 1}
map: {k: {nmae: z}}
any: {free: [1, 2]}
`
	var o outer
	errs := (&Decoder{File: "f.yaml"}).Decode(node(t, src), "", &o)
	want := []string{
		`f.yaml:1:25: inner.count: expected an integer, got "x"`,
		`f.yaml:1:41: inner.on: expected a boolean, got "yes"`,
		`f.yaml:1:52: inner.wait: expected a duration such as 30s or 10m, got integer 5`,
		`f.yaml:1:61: inner.tags: expected a list, got "b"`,
		`f.yaml:1:64: inner.extra: unknown field (known: name, count, rate, on, wait, tags)`,
		`f.yaml:2:11: map.k.nmae: unknown field (did you mean "name"?) (known: name, count, rate, on, wait, tags)`,
	}
	errs.Sort()
	if got := errs.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if o.Inner.Rate != 1 || o.Inner.Name != "a" {
		t.Errorf("good fields not decoded: %+v", o.Inner)
	}
}

// TestDateLikeStringIsReadAsItsLiteralText: string fields take any plain
// scalar as its literal text. yaml.v3 tags an unquoted date such as
// 2026-11-26 !!timestamp, yet it is a string to JSON Schema and YAML 1.2
// tools, so a description or an argv item may be written that way.
func TestDateLikeStringIsReadAsItsLiteralText(t *testing.T) {
	src := `version: runexp/v1
name: x
description: 2026-11-26
studies:
  - name: s
    steps: [{type: sleep}]
`
	x, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatalf("date-like description rejected: %v", err)
	}
	if x.Description != "2026-11-26" {
		t.Errorf("description = %q, want the literal text 2026-11-26", x.Description)
	}
	d := &Decoder{File: "f.yaml"}
	var argv []string
	if errs := d.Decode(node(t, "[serve, --revision, 2024-05-01]"), "command", &argv); errs != nil {
		t.Errorf("date-like argv item rejected: %v", errs)
	}
}

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
