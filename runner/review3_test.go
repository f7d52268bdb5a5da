package runner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// TestReview3SelectVarWithNoValidCaseNoPanic: a select var whose every case
// is invalid (here a mapping, which vars cannot hold) is reported by Parse,
// and runner.Load still compiles to report the rest. When the chooser's
// value has no case either, Vars.Resolve falls back to v.Cases[0]
// (spec/vars.go), but Cases is empty because the invalid cases were
// skipped: index out of range, and `runexp validate` panics instead of
// listing the problems. Correct: a positioned spec.ErrorList naming both
// problems (the bad case and the missing case), no panic.
func TestReview3SelectVarWithNoValidCaseNoPanic(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: x
vars:
  engine: tgi
  server:
    select: engine
    cases: {vllm: {cmd: vllm}}
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: 1ms}}
`)
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("runner.Load panicked: %v", r)
			}
		}()
		_, err = runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	}()
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want a spec.ErrorList, got %T: %v", err, err)
	}
	if !strings.Contains(err.Error(), "cases.vllm") {
		t.Errorf("the invalid case is not reported:\n%v", err)
	}
}

// TestReview3SelectOnListVarNoCascade: a select var chosen by a list var is
// reported by Parse ("must be a plain scalar var"). Resolve then compares
// the list node's empty Value with the case keys and adds a second,
// misleading problem, `vars.engine: "" has no case in var server`,
// although the stated aim of going on after a Resolve problem is to check
// the rest "without errors that follow from this one". Correct: only the
// plain-scalar problem (Resolve skips choosers that are not scalars, as it
// skips unknown ones).
func TestReview3SelectOnListVarNoCascade(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: x
vars:
  engine: [a, b]
  server:
    select: engine
    cases: {a: x}
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: 1ms}}
`)
	_, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "plain scalar") {
		t.Fatalf("want the plain-scalar problem, got %v", err)
	}
	if strings.Contains(err.Error(), `"" has no case`) {
		t.Errorf("cascading problem reported:\n%v", err)
	}
}
