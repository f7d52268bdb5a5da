package spec

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func decodeSweep(t *testing.T, src string) *Sweep {
	t.Helper()
	var s Sweep
	if errs := (&Decoder{File: "f.yaml"}).Decode(node(t, src), "sweep", &s); errs != nil {
		t.Fatal(errs)
	}
	return &s
}

func pointsOf(s *Sweep) string {
	var out []string
	s.Each(func(p Point) bool { out = append(out, p.ID()+" "+p.Label()); return true })
	return strings.Join(out, "|")
}

func TestKeepOfAZippedAxisKeepsItsPartnersAndCountsWhatItWalks(t *testing.T) {
	s := decodeSweep(t, `{axes: {ctx: [512, 1024], mem: [1, 2], p: [1, 4]}, zip: [[ctx, mem]]}`)
	if err := s.Keep("ctx", "1024"); err != nil {
		t.Fatal(err)
	}
	if got, want := pointsOf(s), "002 ctx=1024 mem=2 p=1|003 ctx=1024 mem=2 p=4"; got != want {
		t.Errorf("points %s, want %s", got, want)
	}
	if n, _ := s.Count(); n != 2 {
		t.Errorf("count %d, want 2", n)
	}
	s = decodeSweep(t, `{axes: {a: [x, y], b: [1, 2]}, exclude: [{a: y, b: 2}]}`)
	s.Keep("a", "y")
	if n, _ := s.Count(); n != 1 || pointsOf(s) != "002 a=y b=1" {
		t.Errorf("with an exclude: count %d, points %s", n, pointsOf(s))
	}
}

func TestReplaceAxisOfAZippedAxisMustKeepItsLength(t *testing.T) {
	s := decodeSweep(t, `{axes: {ctx: [512, 1024], mem: [1, 2]}, zip: [[ctx, mem]]}`)
	one := []*yaml.Node{{Kind: yaml.ScalarNode, Value: "4096"}}
	if err := s.ReplaceAxis("ctx", one); err == nil || !strings.Contains(err.Error(), "zipped with mem, so it needs 2 values, got 1") {
		t.Errorf("err %v", err)
	}
	two := []*yaml.Node{{Kind: yaml.ScalarNode, Value: "4096"}, {Kind: yaml.ScalarNode, Value: "8192"}}
	if err := s.ReplaceAxis("ctx", two); err != nil {
		t.Fatal(err)
	}
	if got := pointsOf(s); got != "000 ctx=4096 mem=1|001 ctx=8192 mem=2" {
		t.Errorf("points %s", got)
	}
}
