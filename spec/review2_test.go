package spec

import (
	"strings"
	"testing"
)

// TestReview2StudyNotAMappingErrorsArePositioned: a study written as a scalar
// (`- foo`) or left empty (`- ~`, `-`) must give errors that name
// file:line:col. Today CheckSteps/CheckArtifacts skip nodes that are not
// mappings, but Experiment.check still reports "studies[0].name: missing" and
// "studies[0].steps: at least one step is required" at the study's zero Pos,
// which prints as ": studies[0].name: missing" — no file, no line — and, for a
// null study, those are the only messages.
func TestReview2StudyNotAMappingErrorsArePositioned(t *testing.T) {
	for _, src := range []string{
		"version: runexp/v1\nname: x\nstudies:\n  - foo\n",
		"version: runexp/v1\nname: x\nstudies:\n  - ~\n",
	} {
		_, err := Parse("f.yaml", []byte(src))
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("%q: want an ErrorList, got %v", src, err)
		}
		for _, e := range list {
			if e.Pos.File != "f.yaml" || e.Pos.Line == 0 {
				t.Errorf("%q: error without file:line:col: %q", src, e.Error())
			}
		}
	}
}

// TestReview2DuplicateSelectCaseRejected: the decoder is strict about
// duplicate keys everywhere (TestDuplicateKeyRejected), but the `cases:` of a
// select var are read as a raw node and never checked, so a copy-pasted case
// silently replaces the first one (Resolve keeps the last match).
func TestReview2DuplicateSelectCaseRejected(t *testing.T) {
	src := `version: runexp/v1
name: x
vars:
  engine: vllm
  server:
    select: engine
    cases:
      vllm: [vllm, serve]
      vllm: [runexp, sim, serve]
studies:
  - name: s
    steps: [{type: sleep}]
`
	_, err := Parse("f.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "f.yaml:9:7") || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("duplicate case key vllm (line 9) not reported; got %v", err)
	}
}

// TestReview2DateLikeStringAccepted: string fields take any plain scalar as
// its literal text (numbers and booleans included, and the JSON Schema types
// them as string|number|integer|boolean). An unquoted date such as
// 2026-11-26 is a string to JSON-Schema/YAML 1.2 tools, but yaml.v3 tags it
// !!timestamp and decodeScalar rejects it: `description: 2026-11-26`, or an
// argv item `--revision, 2024-05-01`, fails with
// `expected a string, got "2026-11-26"`.
func TestReview2DateLikeStringAccepted(t *testing.T) {
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

// TestReview2YAMLSyntaxErrorLine: a YAML syntax error must name the line of
// the problem. yaml.v3 reports parser (not scanner) errors at the 0-based
// line of their context, and yamlSyntaxError takes that number as 1-based, so
// the classic mistake of an unquoted ${d} inside a flow mapping on line 6 is
// reported at line 5 (`steps:`), which has nothing wrong with it.
func TestReview2YAMLSyntaxErrorLine(t *testing.T) {
	src := `version: runexp/v1
name: x
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: ${d}}}
`
	_, err := Parse("f.yaml", []byte(src))
	list, ok := err.(ErrorList)
	if !ok || len(list) != 1 {
		t.Fatalf("want one syntax error, got %v", err)
	}
	if list[0].Pos.Line != 6 {
		t.Errorf("syntax error reported at line %d, want 6 (the flow mapping with ${d}): %v", list[0].Pos.Line, list[0])
	}
}

// TestReview2SelectErrorAtSelectField: a select var naming an unknown var is
// reported with path vars.server.select, but at the position of the var's
// key `server:` (line 4) instead of the `select:` value (line 5).
func TestReview2SelectErrorAtSelectField(t *testing.T) {
	src := `version: runexp/v1
name: x
vars:
  server:
    select: engnie
    cases: {vllm: [vllm, serve]}
studies:
  - name: s
    steps: [{type: sleep}]
`
	_, err := Parse("f.yaml", []byte(src))
	list, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	for _, e := range list {
		if e.Path == "vars.server.select" {
			if e.Pos.Line != 5 || e.Pos.Col != 13 {
				t.Errorf("vars.server.select error at %d:%d, want 5:13 (the select value): %v", e.Pos.Line, e.Pos.Col, e)
			}
			return
		}
	}
	t.Fatalf("no vars.server.select error in %v", err)
}
