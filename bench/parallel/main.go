// Command parallel measures what --parallel buys: a sweep of N points whose
// launch takes a fixed time to come up (a shell that sleeps, then says it
// is ready) runs once sequentially and once with -parallel slots, in
// process, and the two wall times are printed against the bound:
// parallel wall ≤ 1.1 × (sequential wall / slots) + one point.
//
//	go run ./bench/parallel [-points 8] [-parallel 4] [-sleep 2s]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/steps"
)

func main() {
	points := flag.Int("points", 8, "sweep points")
	parallel := flag.Int("parallel", 4, "points at once in the parallel run")
	sleep := flag.Duration("sleep", 2*time.Second, "how long each point's launch takes to be ready")
	flag.Parse()
	if err := run(*points, *parallel, *sleep); err != nil {
		fmt.Fprintln(os.Stderr, "parallel:", err)
		os.Exit(1)
	}
}

func run(n, parallel int, sleep time.Duration) error {
	dir, err := os.MkdirTemp("", "runexp-bench-parallel")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "parallel.yaml")
	if err := os.WriteFile(path, specFor(n, sleep), 0o644); err != nil {
		return err
	}
	seq, err := wall(path, filepath.Join(dir, "seq"), 1)
	if err != nil {
		return err
	}
	par, err := wall(path, filepath.Join(dir, "par"), parallel)
	if err != nil {
		return err
	}
	onePoint := seq / time.Duration(n)
	bound := time.Duration(1.1*float64(seq)/float64(parallel)) + onePoint
	verdict := "within"
	if par > bound {
		verdict = "OVER"
	}
	fmt.Printf("%d points, launch ready after %s: sequential %s, --parallel %d %s (bound 1.1 × %s / %d + %s = %s: %s)\n",
		n, sleep, seq.Round(time.Millisecond), parallel, par.Round(time.Millisecond),
		seq.Round(time.Millisecond), parallel, onePoint.Round(time.Millisecond), bound.Round(time.Millisecond), verdict)
	if par > bound {
		return fmt.Errorf("parallel wall %s over the bound %s", par, bound)
	}
	return nil
}

func wall(path, out string, parallel int) (time.Duration, error) {
	p, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: out, Parallel: parallel})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{Out: io.Discard})
	if err != nil {
		return 0, err
	}
	if code := res.ExitCode(); code != 0 {
		return 0, fmt.Errorf("run %s: exit %d", p.RunDir, code)
	}
	return time.Since(start), nil
}

func specFor(n int, sleep time.Duration) []byte {
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprint(i)
	}
	return fmt.Appendf(nil, `version: runexp/v1
name: parallel
studies:
  - name: s
    sweep:
      axes: {n: [%s]}
    steps:
      - id: server
        type: launch
        with:
          command: ['sleep %.3f && touch ${point.dir}/ready && exec sleep 600']
          shell: true
          stop_grace: 1s
      - id: ready
        type: exec
        needs: [server]
        with: {command: [sh, -c, 'while [ ! -e ${point.dir}/ready ]; do sleep 0.01; done']}
      - {id: stop, type: teardown, needs: [server], always: true}
    artifacts:
      - {path: results.csv, format: csv}
`, strings.Join(values, ", "), sleep.Seconds())
}
