package schemas

import (
	"bytes"
	"os"
	"testing"

	"github.com/runexp/runexp/internal/schema"
	"github.com/runexp/runexp/steps"
)

func TestSchemaIsCurrent(t *testing.T) {
	want, err := schema.Generate(steps.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("runexp.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("schemas/runexp.schema.json is stale: run `go run ./cmd/runexp schema > schemas/runexp.schema.json`")
	}
}
