// Command resume measures what resuming a finished run costs when nothing
// is left to do: it plans a run of N `exec true` points, writes each
// point's ok result.json as a finished run would have (without running
// them, which would take minutes), and times runner.Resume over that
// folder: re-planning, reading every result, deciding that every point is
// kept, and writing the journal, manifest and artifacts again. The issue's
// bound is 2 s for 10,000 points.
//
//	go run ./bench/resume [-points 10000]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/steps"
)

func main() {
	points := flag.Int("points", 10000, "sweep points")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the resume to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "resume:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*points); err != nil {
		fmt.Fprintln(os.Stderr, "resume:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(n int) error {
	dir, err := os.MkdirTemp("", "runexp-bench-resume")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "resume.yaml")
	if err := os.WriteFile(path, specFor(n), 0o644); err != nil {
		return err
	}
	runDir := filepath.Join(dir, "run")
	p, err := runner.Load(path, steps.Builtin(), runner.Options{RunDir: runDir})
	if err != nil {
		return err
	}
	if err := fakeFinishedRun(p); err != nil {
		return err
	}
	start := time.Now()
	p, err = runner.Load(path, steps.Builtin(), runner.Options{RunDir: runDir})
	if err != nil {
		return err
	}
	planned := time.Since(start)
	res, err := runner.Resume(context.Background(), p, runner.ExecOptions{Out: io.Discard}, runner.ResumeOptions{})
	if err != nil {
		return err
	}
	total := time.Since(start)
	m, err := runner.ReadManifest(runDir)
	if err != nil {
		return err
	}
	r := m.Resumes[len(m.Resumes)-1]
	fmt.Printf("%d points: plan %s, plan + resume %s (kept %d, ran %d; exit %d; bound 2s)\n",
		n, planned.Round(time.Millisecond), total.Round(time.Millisecond), len(r.Kept), len(r.Rerun), res.ExitCode())
	if len(r.Rerun) > 0 || total > 2*time.Second {
		return fmt.Errorf("over the bound or points ran again")
	}
	return nil
}

// fakeFinishedRun writes what a finished run of p leaves: a manifest and
// every point's ok result.json.
func fakeFinishedRun(p *runner.Plan) error {
	now := time.Now()
	for _, s := range p.Studies {
		for _, pt := range s.Points {
			if err := os.MkdirAll(pt.Dir, 0o755); err != nil {
				return err
			}
			pr := runner.PointResult{Study: s.Name, ID: pt.ID, Slug: pt.Slug, Label: pt.Label, Sweep: pt.Values,
				Identity: pt.Identity, Status: runner.StatusOK, Start: now, End: now, Seconds: 0.01}
			for _, st := range pt.Steps {
				pr.Steps = append(pr.Steps, runner.StepResult{ID: st.ID, Type: st.Type, Status: runner.StatusOK})
			}
			data, err := json.Marshal(pr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(pt.Dir, "result.json"), data, 0o644); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(p.RunDir, "manifest.json"), []byte(`{"status":"ok","points":[]}`), 0o644)
}

func specFor(n int) []byte {
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprint(i)
	}
	return fmt.Appendf(nil, `version: runexp/v1
name: resume
studies:
  - name: s
    sweep:
      axes: {n: [%s]}
    steps:
      - {id: work, type: exec, with: {command: ["true"]}}
    artifacts:
      - {path: results.csv, format: csv}
      - {path: results.json, format: json}
`, strings.Join(values, ", "))
}
