package load

import (
	"strings"
	"testing"

	"github.com/runexp/runexp/spec"
	"go.yaml.in/yaml/v3"
)

func decodeModes(t *testing.T, src string) (Modes, spec.ErrorList) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	var ms Modes
	errs := (&spec.Decoder{File: "f.yaml"}).Decode(n.Content[0], "modes", &ms)
	return ms, errs
}

func TestListValuedConcurrencyExpandsIntoOneModePerValueInOrder(t *testing.T) {
	ms, errs := decodeModes(t, `[{kind: sequential, requests: 4}, {kind: concurrent, concurrency: [1, 8, 32], requests: 64}, {kind: rate, rate: [0.5, 2], requests: 8}]`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.label())
	}
	if want := "sequential concurrent-1 concurrent-8 concurrent-32 rate-0.5 rate-2"; strings.Join(got, " ") != want {
		t.Fatalf("modes %q, want %q", got, want)
	}
	if ms[2].Concurrency != 8 || ms[2].Requests != 64 || ms[5].Rate != 2 {
		t.Errorf("levels not set: %+v", ms)
	}
	if err := (Config{BaseURL: "http://h", Model: "m", Modes: ms}).Validate(); err != nil {
		t.Errorf("expanded modes do not validate: %v", err)
	}
}

func TestListValuedModeNameIsAPatternOrAPrefix(t *testing.T) {
	ms, errs := decodeModes(t, `[{name: "c{concurrency}", kind: concurrent, concurrency: [2, 4], requests: 8}, {name: load, kind: concurrent, concurrency: [2], requests: 8}]`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ms[0].Name != "c2" || ms[1].Name != "c4" || ms[2].Name != "load-2" {
		t.Errorf("names %q %q %q", ms[0].Name, ms[1].Name, ms[2].Name)
	}
}

func TestListValuedModeReportsProblemsOnceAtTheModeAsWritten(t *testing.T) {
	_, errs := decodeModes(t, `[{kind: concurrent, concurrency: [1, 2], requests: 8, reqests: 3}]`)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "reqests") || !strings.Contains(errs[0].Error(), "requests") {
		t.Fatalf("want one problem about reqests, got %v", errs)
	}
	ms, _ := decodeModes(t, `[{kind: concurrent, concurrency: [1, 0], requests: 8}]`)
	err := (Config{BaseURL: "http://h", Model: "m", Modes: ms}).Validate()
	if err == nil || !strings.Contains(err.Error(), "modes[0].concurrency") {
		t.Errorf("the bad level must be reported at the mode as written (modes[0]), got %v", err)
	}
	_, errs = decodeModes(t, `[{kind: rate, concurrency: [1, 2], rate: [1, 2], requests: 8}]`)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "only one of concurrency and rate") {
		t.Errorf("two list-valued levels: %v", errs)
	}
}
