package spec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/testutil"
)

// golden compares got with the file at path, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) { testutil.Golden(t, path, got) }

// badFixture is the path of testdata/bad/<name>.yaml.
func badFixture(name string) string {
	return filepath.Join("testdata", "bad", name+".yaml")
}

// parseErrors parses data as the file path and returns its problems, which
// must come as an ErrorList.
func parseErrors(t *testing.T, path string, data []byte) ErrorList {
	t.Helper()
	_, err := Parse(path, data)
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("%s: want a non-empty ErrorList, got %T: %v", path, err, err)
	}
	return list
}

// parseBadFixture parses testdata/bad/<name>.yaml and returns its problems.
func parseBadFixture(t *testing.T, name string) ErrorList {
	t.Helper()
	path := badFixture(name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseErrors(t, path, data)
}

// TestBadSpecFixturesReportEveryProblemAsGolden pins, for each
// testdata/bad/*.yaml, the whole list of problems spec.Parse reports, each
// as file:line:col: path: message, against the .golden file next to it.
func TestBadSpecFixturesReportEveryProblemAsGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad spec fixtures (%v)", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			list := parseBadFixture(t, name)
			for _, e := range list {
				if e.Pos.File != f || e.Pos.Line == 0 || e.Pos.Col == 0 {
					t.Errorf("problem without file:line:col: %q", e.Error())
				}
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(list.Error()+"\n"))
		})
	}
}

func TestParseNeverPanics(t *testing.T) {
	for _, src := range []string{"", "[]", "42", "version: runexp/v1\nstudies: 3", "studies: [[1]]",
		"version: runexp/v1\nname: x\nstudies: [{name: s, steps: [1, {type: [x]}]}]", "vars: [1]", "vars: {a: {b: c}}", "&a [*a]"} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%q panicked: %v", src, r)
				}
			}()
			Parse("f.yaml", []byte(src))
		}()
	}
}

// TestStudyThatIsNotAMappingIsReportedWithItsPosition: a study written as a
// scalar (`- foo`) or left empty (`- ~`) is reported at its item, and no
// problem about its missing name or steps comes without a file:line:col.
func TestStudyThatIsNotAMappingIsReportedWithItsPosition(t *testing.T) {
	for _, name := range []string{"study-scalar", "study-null"} {
		t.Run(name, func(t *testing.T) {
			list := parseBadFixture(t, name)
			for _, e := range list {
				if e.Pos.File != badFixture(name) || e.Pos.Line == 0 {
					t.Errorf("problem without file:line:col: %q", e.Error())
				}
			}
			if e := list[0]; e.Path != "studies[0]" || e.Pos.Line != 4 {
				t.Errorf("first problem %q, want studies[0] at line 4", e.Error())
			}
		})
	}
}

// TestDuplicateKeyInAStudyIsRejected: the decoder is strict; a repeated key
// is an error, not "the last one wins".
func TestDuplicateKeyInAStudyIsRejected(t *testing.T) {
	list := parseBadFixture(t, "study-duplicate-key")
	if !strings.Contains(list.Error(), "duplicate key") {
		t.Fatalf("duplicate key `name` in a study not reported: %v", list)
	}
}

// TestYAMLSyntaxErrorIsReportedAtTheLineOfTheProblem: yaml.v3 numbers the
// lines of parser errors from 0; the report names the 1-based line of the
// construct that could not be parsed (here an unquoted ${d} inside a flow
// mapping on line 6), not the line before it.
func TestYAMLSyntaxErrorIsReportedAtTheLineOfTheProblem(t *testing.T) {
	list := parseBadFixture(t, "syntax-flow-mapping")
	if len(list) != 1 {
		t.Fatalf("want one syntax error, got %v", list)
	}
	if list[0].Pos.Line != 6 {
		t.Errorf("syntax error reported at line %d, want 6 (the flow mapping with ${d}): %v", list[0].Pos.Line, list[0])
	}
}

// TestYAMLSyntaxErrorLineIgnoresAMissingFinalNewline: a file whose last line
// has no final newline, as editors often save it, still has that line; a
// syntax error on it is reported there.
func TestYAMLSyntaxErrorLineIgnoresAMissingFinalNewline(t *testing.T) {
	path := badFixture("syntax-flow-mapping")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	list := parseErrors(t, path, bytes.TrimRight(data, "\n"))
	if len(list) != 1 {
		t.Fatalf("want one syntax error, got %v", list)
	}
	if list[0].Pos.Line != 6 {
		t.Errorf("syntax error reported at line %d, want 6: %v", list[0].Pos.Line, list[0])
	}
}
