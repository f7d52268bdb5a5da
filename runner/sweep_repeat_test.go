package runner_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
)

// repeatSpec: axis k with the values given, every point repeated (repeat
// from the var reps); the point k=2 repeat=2 waits until the file release
// exists next to the spec.
const repeatSpec = `version: runexp/v1
name: reps
vars: {reps: 3}
studies:
  - name: s
    sweep:
      axes: {k: [%s]}
      repeat: ${reps}
    steps:
      - id: work
        type: exec
        with:
          command:
            - sh
            - -c
            - |
              if [ ${k} -eq 2 ] && [ ${repeat} -eq 2 ]; then while [ ! -e ${spec.dir}/release ]; do sleep 0.05; done; fi
              echo $(( ${k} * 10 + ${repeat} ))
          record: value
    artifacts:
      - {path: rows.csv, format: csv, columns: [point, k, repeat, value, status]}
      - {path: summary.csv, format: csv, aggregate: repeat, columns: [k, n, value_mean, value_ci95_low, value_ci95_high, status]}
`

func repeatIdentities(t *testing.T, values string, sets ...string) map[string]string {
	t.Helper()
	path := writeSpec(t, strings.ReplaceAll(fmt.Sprintf(repeatSpec, values), "${spec.dir}", "/nonexistent")) // the same command in every spec
	p := compile(t, path, t.TempDir(), overrides(t, sets...)...)
	got := map[string]string{}
	for _, pt := range p.Studies[0].Points {
		got[pt.Label] = pt.Identity
	}
	return got
}

// TestSweepRepeatGivesEveryRepetitionItsOwnStableIdentity: each repetition
// is a point of its own identity; inserting an axis value leaves the other
// points' repetitions alone; the first repetition is the point run once,
// so raising repeat keeps what ran.
func TestSweepRepeatGivesEveryRepetitionItsOwnStableIdentity(t *testing.T) {
	before := repeatIdentities(t, "1, 3")
	after := repeatIdentities(t, "1, 2, 3")
	if len(before) != 6 || len(after) != 9 {
		t.Fatalf("points: %d and %d, want 6 and 9", len(before), len(after))
	}
	seen := map[string]string{}
	for label, id := range after {
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share identity %s", label, other, id)
		}
		seen[id] = label
	}
	for label, id := range before {
		if after[label] != id {
			t.Errorf("%s: identity %s became %s when k=2 was inserted", label, id, after[label])
		}
	}
	once := repeatIdentities(t, "1, 3", "reps=1")
	if once["k=1"] == "" || once["k=1"] != before["k=1 repeat=1"] {
		t.Errorf("k=1 run once has identity %q, its first repetition %q: want equal", once["k=1"], before["k=1 repeat=1"])
	}
}

// TestSweepRepeatPlanShowsRepetitionsAndCountsThemAgainstMaxPoints: the
// plan lists each repetition as a point (repetitions of a point together),
// and max_points counts repetitions.
func TestSweepRepeatPlanShowsRepetitionsAndCountsThemAgainstMaxPoints(t *testing.T) {
	path := writeSpec(t, fmt.Sprintf(repeatSpec, "1, 2"))
	p, err := compileFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, pt := range p.Studies[0].Points {
		labels = append(labels, pt.Label)
	}
	want := "k=1 repeat=1|k=1 repeat=2|k=1 repeat=3|k=2 repeat=1|k=2 repeat=2|k=2 repeat=3"
	if got := strings.Join(labels, "|"); got != want {
		t.Errorf("points %s, want %s", got, want)
	}
	if s := p.Studies[0]; s.Repeat != 3 || strings.Join(s.Axes, ",") != "k" {
		t.Errorf("study repeat %d axes %v, want 3 and [k]", s.Repeat, s.Axes)
	}
	var js bytes.Buffer
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Studies []struct {
			Repeat int
			Points []struct{ Values []runner.NamedValue }
		}
	}
	if err := json.Unmarshal(js.Bytes(), &plan); err != nil {
		t.Fatal(err)
	}
	if s := plan.Studies[0]; s.Repeat != 3 || len(s.Points) != 6 || fmt.Sprint(s.Points[4].Values) != "[{k 2} {repeat 2}]" {
		t.Errorf("plan --json: study repeat %d, points %d, values of the fifth %v", s.Repeat, len(s.Points), s.Points[4].Values)
	}
	capped := writeSpec(t, strings.Replace(fmt.Sprintf(repeatSpec, "1, 2"), "name: reps", "name: reps\nmax_points: 5", 1))
	_, err = compileFile(capped)
	if err == nil || !strings.Contains(err.Error(), "the sweep has 6 points, more than max_points (5)") {
		t.Errorf("6 repetitions against max_points 5: %v", err)
	}
}

// TestResumeAfterAKillMidRepetitionsRunsOnlyTheMissingOnes: runexp killed
// while the second repetition of k=2 runs; resume keeps the four
// repetitions that finished and runs the two others; the per-repetition
// rows and the folded summary hold every repetition once.
func TestResumeAfterAKillMidRepetitionsRunsOnlyTheMissingOnes(t *testing.T) {
	path := writeSpec(t, fmt.Sprintf(repeatSpec, "1, 2"))
	out := t.TempDir()
	cmd, buf := startRunexp(t, path, "--out", out)
	waitForLine(t, buf, cmd, "[s 5/6 k=2 repeat=2] work (exec) ...")
	runs, _ := filepath.Glob(filepath.Join(out, "reps", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run folders: %v", runs)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, buf := startRunexp(t, "resume", runs[0])
	if code := exitCode(t, again); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, buf.String())
	}
	log := buf.String()
	for _, want := range []string{"4 point(s) kept, 2 to run, 0 dropped", "[s 4/6 k=2 repeat=1] kept: ok", "[s 5/6 k=2 repeat=2] work (exec) ...", "[s 6/6 k=2 repeat=3] work (exec) ..."} {
		if !strings.Contains(log, want) {
			t.Errorf("resume output lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "[s 1/6 k=1 repeat=1] work") {
		t.Errorf("a finished repetition ran again:\n%s", log)
	}
	rows := readFile(t, filepath.Join(runs[0], "s", "rows.csv"))
	wantRows := "point,k,repeat,value,status\n000,1,1,11,ok\n001,1,2,12,ok\n002,1,3,13,ok\n003,2,1,21,ok\n004,2,2,22,ok\n005,2,3,23,ok\n"
	if rows != wantRows {
		t.Errorf("rows.csv:\n%s\nwant:\n%s", rows, wantRows)
	}
	// 11, 12, 13: mean 12, s = 1, t(0.975, 2) = 4.303, half-width 4.303/√3.
	summary := readFile(t, filepath.Join(runs[0], "s", "summary.csv"))
	wantSummary := "k,n,value_mean,value_ci95_low,value_ci95_high,status\n1,3,12,9.51566179167704,14.48433820832296,ok\n2,3,22,19.51566179167704,24.48433820832296,ok\n"
	if summary != wantSummary {
		t.Errorf("summary.csv:\n%s\nwant:\n%s", summary, wantSummary)
	}
	if m, err := runner.ReadManifest(runs[0]); err != nil || len(m.Points) != 6 {
		t.Errorf("manifest: %+v, %v", m, err)
	}
}

// TestSweepRepeatIsAWholeNumberFromOne: repeat is checked at its key.
func TestSweepRepeatIsAWholeNumberFromOne(t *testing.T) {
	for value, want := range map[string]string{
		"0":        `spec.yaml:8:15: studies[0].sweep.repeat: want a whole number of repetitions from 1 to 10000, got "0"`,
		"two":      `spec.yaml:8:15: studies[0].sweep.repeat: want a whole number of repetitions from 1 to 10000, got "two"`,
		"1.5":      `spec.yaml:8:15: studies[0].sweep.repeat: want a whole number of repetitions from 1 to 10000, got "1.5"`,
		"[1, 2]":   `spec.yaml:8:15: studies[0].sweep.repeat: want a whole number of repetitions from 1 to 10000, got a list`,
		"99999999": `spec.yaml:8:15: studies[0].sweep.repeat: want a whole number of repetitions from 1 to 10000, got "99999999"`,
	} {
		path := writeSpec(t, strings.Replace(fmt.Sprintf(repeatSpec, "1"), "${reps}", value, 1))
		_, err := compileFile(path)
		var list spec.ErrorList
		if !errors.As(err, &list) || len(list) != 1 || !strings.HasSuffix(list[0].Error(), want[len("spec.yaml"):]) {
			t.Errorf("repeat: %s: got %v, want %s", value, err, want)
		}
	}
	path := writeSpec(t, strings.Replace(fmt.Sprintf(repeatSpec, "1"), "axes: {k: [1]}", "axes: {k: [1], repeat: [1, 2]}", 1))
	if _, err := compileFile(path); err == nil || !strings.Contains(err.Error(), `studies[0].sweep.axes.repeat: "repeat" is the repetition index`) {
		t.Errorf("an axis called repeat: %v", err)
	}
}
