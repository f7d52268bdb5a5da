package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/schema"
	"github.com/runexp/runexp/internal/testutil"
	"github.com/runexp/runexp/steps"
)

// `runexp steps KIND` prints every with: key of the kind, from the same
// source as the schema: its type, its constructor default and its doc.
func TestStepsKindPrintsEveryFieldWithItsDocAndDefault(t *testing.T) {
	for _, k := range steps.Builtin().Kinds() {
		code, stdout, stderr := run("steps", k.Name)
		if code != 0 {
			t.Fatalf("steps %s: exit %d: %s", k.Name, code, stderr)
		}
		for _, f := range schema.KindFields(k) {
			want := f.Key + ": " + f.Type
			if f.Default != "" {
				want += " (default " + f.Default + ")"
			}
			if !strings.Contains(stdout, want) || !strings.Contains(stdout, f.Doc) {
				t.Errorf("steps %s lacks %q with its doc %q:\n%s", k.Name, want, f.Doc, stdout)
			}
		}
	}
	_, stdout, _ := run("steps", "load")
	for _, want := range []string{"max_tokens: integer (default 32)", "modes[].kind: one of: sequential, concurrent, rate", "request_timeout: duration (default 5m0s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("steps load lacks %q", want)
		}
	}
}

func TestStepsKindOutputGolden(t *testing.T) {
	_, got, _ := run("steps", "teardown")
	testutil.Golden(t, filepath.Join("testdata", "steps-teardown.txt"), []byte(got))
}

func TestStepsUnknownKindIsAUsageErrorWithTheClosestKind(t *testing.T) {
	code, _, stderr := run("steps", "lod")
	if code != ExitUsage || !strings.Contains(stderr, `did you mean "load"?`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// Every subcommand's help starts with "usage: runexp ..." and lists its
// flags as --name.
func TestEverySubcommandsHelpHasOneStyle(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-h"}, {"plan", "-h"}, {"validate", "-h"}, {"load", "-h"}, {"capacity", "-h"},
		{"gguf", "-h"}, {"ollama-create", "-h"}, {"sim", "serve", "--help"}, {"steps", "--help"}, {"schema", "--help"},
	} {
		code, stdout, stderr := run(args...)
		out := stdout + stderr
		if code != 0 || !strings.HasPrefix(out, "usage: runexp ") {
			t.Errorf("%v: exit %d, help does not start with \"usage: runexp\":\n%.300s", args, code, out)
		}
		if strings.Contains(out, "\n  -") && !strings.Contains(out, "\n  --") {
			t.Errorf("%v: flags listed with one dash:\n%.300s", args, out)
		}
	}
}
