package runner_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/steps"
)

// A plan compiled with CountOnly and printed point by point (what `runexp
// plan` does, so that its memory does not grow with the sweep) is
// byte-identical, as text and as JSON, to the plan compiled whole.
func TestPlanPrintedPointByPointIsByteIdenticalToTheWholePlan(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	files = append(files, "../experiments/day007.yaml")
	for _, f := range files {
		opt := runner.Options{OutDir: "/runs", Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Env: func(string) (string, bool) { return "", false }}
		whole, err := runner.Load(f, steps.Builtin(), opt)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		opt.CountOnly = true
		streamed, err := runner.Load(f, steps.Builtin(), opt)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var wantText, gotText, wantJSON, gotJSON bytes.Buffer
		if err := whole.WriteText(&wantText); err != nil {
			t.Fatal(err)
		}
		if err := streamed.WriteText(&gotText); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&wantJSON)
		enc.SetIndent("", "  ")
		if err := enc.Encode(whole); err != nil {
			t.Fatal(err)
		}
		if err := streamed.WriteJSON(&gotJSON); err != nil {
			t.Fatal(err)
		}
		if gotText.String() != wantText.String() {
			t.Errorf("%s: text differs:\n--- streamed\n%s\n--- whole\n%s", f, gotText.String(), wantText.String())
		}
		if gotJSON.String() != wantJSON.String() {
			t.Errorf("%s: JSON differs:\n--- streamed\n%s\n--- whole\n%s", f, gotJSON.String(), wantJSON.String())
		}
	}
}
