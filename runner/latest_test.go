package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/report"
	"github.com/runexp/runexp/runner"
)

// runDirGlob matches the run folders of a spec (named by their UTC start
// time, 20060102T150405Z) and not the latest link beside them.
const runDirGlob = "[0-9]*"

const latestSpec = `version: runexp/v1
name: latest
studies:
  - name: s
    steps:
      - {id: hello, type: exec, with: {command: [sh, -c, 'echo hello']}}
    artifacts:
      - {path: points.csv, format: csv}
`

// runs/<name>/latest is a relative symlink to the newest run folder, moved
// when the next run starts.
func TestLatestLinksTheNewestRun(t *testing.T) {
	out := t.TempDir()
	path := writeSpec(t, latestSpec)
	var dirs []string
	for range 2 {
		p := compile(t, path, out)
		if _, err := runner.Execute(t.Context(), p, runner.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, p.RunDir)
		time.Sleep(1100 * time.Millisecond) // run folders are named by the second
	}
	link := filepath.Join(out, "latest", runner.LatestName)
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.IsAbs(target) || target != filepath.Base(dirs[1]) {
		t.Errorf("latest → %q, want the relative name of the newer run %q", target, filepath.Base(dirs[1]))
	}
	if matches, _ := filepath.Glob(filepath.Join(out, "latest", runDirGlob)); len(matches) != 2 {
		t.Errorf("run folders %v, want the 2 runs", matches)
	}
}

// Every run, an interrupted one too, leaves report.html in its folder.
func TestInterruptedRunWritesItsReport(t *testing.T) {
	out := t.TempDir()
	p := compile(t, writeSpec(t, latestSpec), out)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := runner.Execute(ctx, p, runner.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted {
		t.Fatal("run not interrupted")
	}
	page, err := os.ReadFile(filepath.Join(p.RunDir, report.FileName))
	if err != nil {
		t.Fatalf("no report after an interrupted run: %v", err)
	}
	for _, want := range []string{"interrupted", "run interrupted before this point"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report does not say %q", want)
		}
	}
}
