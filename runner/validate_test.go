package runner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/runexp/runexp/spec"
)

// loadWithoutPanic runs compileFile and fails the test, rather than the
// whole test binary, if it panics.
func loadWithoutPanic(t *testing.T, path string) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("runner.Load(%s) panicked instead of returning spec errors: %v", path, r)
		}
	}()
	_, err = compileFile(path)
	return err
}

// Zipped axes of unequal lengths are a spec error, not a panic.
func TestCompileZipUnequalLengthsIsAnError(t *testing.T) {
	if err := loadWithoutPanic(t, "testdata/bad/zip-unequal.yaml"); err == nil {
		t.Fatal("no error for unequal zipped axes")
	}
}

// A chart path that is neither .svg nor .png is refused by validate, not
// when the study ends after every point has run.
func TestValidateRejectsAChartPathThatIsNeitherSVGNorPNG(t *testing.T) {
	if _, err := compileFile("testdata/bad/chart-extension.yaml"); err == nil {
		t.Fatal("chart path latency.jpg accepted by validation; the run only fails at the end: chart path must end in .svg or .png")
	}
}

// When no --set is given and the chooser's value written in the file has no
// case, the problem is in the spec: a positioned spec.ErrorList (file:line:col,
// exit 2) together with every other problem of the file (here the unknown
// field `bogus`), not a usage error without position.
func TestSelectDefaultWithoutCaseIsAPositionedSpecErrorAmongTheOthers(t *testing.T) {
	err := loadWithoutPanic(t, "testdata/bad/select-default-without-case.yaml")
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want a positioned spec.ErrorList, got %T: %v", err, err)
	}
	var sawCase, sawBogus bool
	for _, e := range list {
		if e.Pos.Line == 0 {
			t.Errorf("problem without line: %v", e)
		}
		sawCase = sawCase || strings.Contains(e.Msg, "no case")
		sawBogus = sawBogus || strings.Contains(e.Path, "bogus")
	}
	if !sawCase || !sawBogus {
		t.Errorf("want both the select problem and the unknown field, got:\n%v", err)
	}
}

// A select var whose every case is invalid, chosen by a value with no case,
// is reported as a positioned spec.ErrorList naming the bad case; Resolve
// has no case to fall back to, and must not panic looking for one.
func TestSelectVarWithNoValidCaseIsReportedWithoutPanic(t *testing.T) {
	err := loadWithoutPanic(t, "testdata/bad/select-cases-all-invalid.yaml")
	var list spec.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want a spec.ErrorList, got %T: %v", err, err)
	}
	if !strings.Contains(err.Error(), "cases.vllm") {
		t.Errorf("the invalid case is not reported:\n%v", err)
	}
}

// A select var chosen by a list var is reported once, as "must be a plain
// scalar var"; Resolve skips choosers that are not scalars, so no problem
// that follows from it (`"" has no case`) is added.
func TestSelectOnListVarReportsOnlyThePlainScalarProblem(t *testing.T) {
	err := loadWithoutPanic(t, "testdata/bad/select-chooser-is-list.yaml")
	if err == nil || !strings.Contains(err.Error(), "plain scalar") {
		t.Fatalf("want the plain-scalar problem, got %v", err)
	}
	if strings.Contains(err.Error(), `"" has no case`) {
		t.Errorf("cascading problem reported:\n%v", err)
	}
}
