package schema

import (
	"os"
	"strings"
	"testing"

	"github.com/runexp/runexp/steps"
)

// README.md lists every closed vocabulary from the Go types: the table
// between the markers is VocabularyMarkdown's output, so a value added to a
// vocabulary shows up in the docs (and in the schema's enum) or this fails.
func TestReadmeListsEveryVocabularyFromItsType(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- vocabularies: begin (generated; see internal/schema) -->\n", "<!-- vocabularies: end -->"
	_, rest, ok := strings.Cut(string(data), begin)
	table, _, ok2 := strings.Cut(rest, end)
	want := VocabularyMarkdown(steps.Builtin())
	if !ok || !ok2 || table != want {
		t.Fatalf("README.md's vocabulary table is stale or missing; between the markers put:\n%s%s%s", begin, want, end)
	}
}
