package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repetitionsSpec runs the point k=1 reps times; each repetition records
// mean_ttft_ms = base + repeat·spread (lower is better).
const repetitionsSpec = `version: runexp/v1
name: reps
vars: {reps: 3, base: 100, spread: 1}
studies:
  - name: s
    sweep:
      axes: {k: [1]}
      repeat: ${reps}
    steps:
      - id: work
        type: exec
        with:
          command: [sh, -c, 'echo $(( ${base} + ${repeat} * ${spread} ))']
          record: mean_ttft_ms
`

// repetitionsRun runs repetitionsSpec with the sets and returns its run folder.
func repetitionsRun(t *testing.T, sets ...string) string {
	t.Helper()
	out := t.TempDir()
	args := []string{"run", writeSpec(t, repetitionsSpec), "--out", out}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	if code, stdout, stderr := run(args...); code != 0 {
		t.Fatalf("runexp %v: exit %d\n%s%s", args, code, stdout, stderr)
	}
	return filepath.Join(out, "reps", "latest")
}

// `runexp compare` of runs with a sweep's repeat: N compares each
// configuration's repetitions as one sample per side (mean ± interval, n,
// Welch test), not repetition by repetition: a tight 20 % slowdown
// regresses; a larger but noisy one is within noise; a run without
// repeats against a repeated one is judged by the threshold and says so.
func TestCompareJudgesSweepRepetitionsAsOneSamplePerSide(t *testing.T) {
	base := repetitionsRun(t)                      // 101, 102, 103
	slower := repetitionsRun(t, "base=120")        // 121, 122, 123
	noisy := repetitionsRun(t, "spread=40")        // 140, 180, 220
	once := repetitionsRun(t, "reps=1", "base=90") // 91: no repeat axis at all

	t.Run("TightSlowdownRegresses", func(t *testing.T) {
		code, stdout, stderr := run("compare", base, slower)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"mean_ttft_ms ↓", "102 ± 2.484 (n=3)", "122 ± 2.484 (n=3)", "+19.6%", "regressed (Welch t=24.49, df=4.0)", "1 metrics compared"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "repeat=") {
			t.Errorf("repetitions compared one by one:\n%s", stdout)
		}
		t.Logf("runexp compare:\n%s", stdout)
	})
	t.Run("ReportShowsEachSideAsCompareDoes", func(t *testing.T) {
		page := filepath.Join(t.TempDir(), "r.html")
		if code, stdout, stderr := run("report", slower, "-o", page, "--baseline", base); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`<td data-sort="102">102 ± 2.484 (n=3)</td>`, `<td data-sort="122">122 ± 2.484 (n=3)</td>`, "regressed (Welch t=24.49, df=4.0)"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("report's comparison lacks %q", want)
			}
		}
	})
	t.Run("NoisySlowdownIsWithinNoise", func(t *testing.T) {
		code, stdout, stderr := run("compare", "--format", "json", base, noisy)
		var res struct {
			Regressed bool
			Rows      []struct {
				Point   string
				NewN    int `json:"new_n"`
				Verdict string
				Welch   *struct{ Significant bool }
				Change  float64
				NewCI   *struct{ Low, High float64 } `json:"new_ci95"`
			}
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 || res.Regressed || len(res.Rows) != 1 {
			t.Fatalf("exit %d, %v: %+v\n%s%s", code, err, res, stdout, stderr)
		}
		r := res.Rows[0]
		if r.Point != "k=1" || r.NewN != 3 || r.Verdict != "within noise" || r.Welch == nil || r.Welch.Significant || r.Change < 0.7 || r.NewCI == nil {
			t.Errorf("row %+v: a +76%% change inside 140–220 is noise by Welch", r)
		}
	})
	t.Run("OneSampleAgainstRepetitionsFallsBackToTheThreshold", func(t *testing.T) {
		code, stdout, stderr := run("compare", once, base)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"91 ", "+12.1%", "regressed (one base sample: no test, threshold only", "102 ± 2.484 (n=3)"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "only in") {
			t.Errorf("the run without repeats did not match the repeated one:\n%s", stdout)
		}
		t.Logf("runexp compare:\n%s", stdout)
	})
}
