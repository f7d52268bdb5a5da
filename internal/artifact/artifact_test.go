package artifact

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

func TestRegistryHoldsEveryFormatTheSpecAccepts(t *testing.T) {
	var got []string
	for _, f := range formats {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, spec.ArtifactFormats) {
		t.Fatalf("formats %v, spec accepts %v", got, spec.ArtifactFormats)
	}
	for _, name := range []string{"markdown", "chart"} {
		if f, _ := Lookup(name); !f.Final {
			t.Errorf("%s is not rendered once at the end", name)
		}
	}
}

func TestCSVWritesDeclaredColumnsIntegersPlainAndMissingEmpty(t *testing.T) {
	rows := []results.Row{{"a": 3.0, "b": 0.25, "c": "x"}, {"a": int64(1e6), "c": true}}
	got, err := Encode(Job{Artifact: spec.Artifact{Format: "csv", Columns: []string{"c", "a", "b"}}, Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	if want := "c,a,b\nx,3,0.25\ntrue,1000000,\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCSVWithoutColumnsWritesEveryColumnInOrderOfAppearance(t *testing.T) {
	got, _ := Encode(Job{Artifact: spec.Artifact{Format: "csv"}, Rows: []results.Row{{"x": 1, "y": 2}}, Columns: []string{"y", "x"}})
	if string(got) != "y,x\n2,1\n" {
		t.Fatalf("got %q", got)
	}
}

func TestJSONOfNoRowsIsAnEmptyList(t *testing.T) {
	got, err := Encode(Job{Artifact: spec.Artifact{Format: "json"}})
	if err != nil || string(got) != "[]" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestJSONLWritesOneRowPerLine(t *testing.T) {
	got, _ := Encode(Job{Artifact: spec.Artifact{Format: "jsonl"}, Rows: []results.Row{{"a": 1}, {"a": results.Finite(math.NaN())}}})
	if string(got) != "{\"a\":1}\n{\"a\":null}\n" {
		t.Fatalf("got %q", got)
	}
}

func TestUnknownFormatIsAnError(t *testing.T) {
	if _, err := Encode(Job{Artifact: spec.Artifact{Format: "xml"}}); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Fatalf("got %v", err)
	}
}
