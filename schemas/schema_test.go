package schemas

import (
	"bytes"
	"os"
	"path/filepath"
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

// Every spec in experiments/ names the schema, so editors validate it.
func TestExperimentsHaveModeline(t *testing.T) {
	files, _ := filepath.Glob("../experiments/*.yaml")
	if len(files) == 0 {
		t.Fatal("no experiments")
	}
	const modeline = "# yaml-language-server: $schema=../schemas/runexp.schema.json\n"
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte(modeline)) {
			t.Errorf("%s does not start with %q", f, modeline)
		}
	}
}
