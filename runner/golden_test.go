package runner_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/spec"
)

// Every spec in testdata/bad fails with a positioned spec.ErrorList whose
// text is its .golden file (go test ./runner -update rewrites them).
func TestBadSpecsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad specs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := compileFile(f)
			if err == nil {
				t.Fatal("expected errors")
			}
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want a positioned ErrorList, got %T: %v", err, err)
			}
			for _, e := range list {
				if e.Pos.Line == 0 || e.Pos.File != f {
					t.Errorf("problem without position: %v", e)
				}
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// Every spec in testdata/good, and the shipped day007 experiment, compiles
// to the plan text in its .plan.golden file.
func TestGoodSpecsPlanGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	files = append(files, "../experiments/day007.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := compileFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			p.WriteText(&b)
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			golden(t, filepath.Join("testdata", "good", name+".plan.golden"), b.Bytes())
		})
	}
}
