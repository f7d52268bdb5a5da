// Command perpoint measures what one sweep point costs the runner when the
// point itself does nearly nothing: it generates a spec of N points that
// each run `exec true` (with a CSV and a JSON artifact, as real specs
// have), executes it in-process, and prints the mean cost per point over
// the first and the last 1000 points and the peak RSS. The runner's own
// bookkeeping (journal, result.json, artifacts, manifest) must cost the
// same at the last point as at the first.
//
//	go run ./bench/perpoint [-points 10000] [-window 1000] [-keep]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/steps"
)

func main() {
	points := flag.Int("points", 10000, "sweep points")
	window := flag.Int("window", 1000, "points averaged at the start and at the end")
	keep := flag.Bool("keep", false, "keep the run folder")
	flag.Parse()
	if err := run(*points, *window, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "perpoint:", err)
		os.Exit(1)
	}
}

func run(n, window int, keep bool) error {
	if window > n {
		window = n
	}
	dir, err := os.MkdirTemp("", "runexp-perpoint")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	path := filepath.Join(dir, "perpoint.yaml")
	if err := os.WriteFile(path, specFor(n), 0o644); err != nil {
		return err
	}
	p, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: filepath.Join(dir, "runs")})
	if err != nil {
		return err
	}
	clock := &pointClock{start: time.Now()}
	res, err := runner.Execute(context.Background(), p, runner.ExecOptions{Out: clock})
	if err != nil {
		return err
	}
	if code := res.ExitCode(); code != 0 {
		return fmt.Errorf("run exited %d: %v", code, res.Errors)
	}
	ends := clock.ends
	if len(ends) != n {
		return fmt.Errorf("saw %d point ends, want %d", len(ends), n)
	}
	first := mean(clock.start, ends[:window])
	last := mean(ends[n-window-1], ends[n-window:])
	if n == window {
		last = first
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("points:              %d (exec true, csv + json artifacts)\n", n)
	fmt.Printf("total:               %s\n", ends[n-1].Sub(clock.start).Round(time.Millisecond))
	fmt.Printf("first %d points:   %.2f ms/point\n", window, first)
	fmt.Printf("last %d points:    %.2f ms/point (%.2fx the first)\n", window, last, last/first)
	fmt.Printf("peak RSS:            %.1f MiB\n", float64(ru.Maxrss)/1024)
	if keep {
		fmt.Printf("run folder:          %s\n", res.RunDir)
	}
	return nil
}

// specFor is an experiment of n points of `exec true`.
func specFor(n int) []byte {
	var b bytes.Buffer
	b.WriteString("version: runexp/v1\nname: perpoint\nstudies:\n  - name: s\n    sweep:\n      axes:\n        i: [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString(`]
    steps:
      - {type: exec, with: {command: ["true"]}}
    artifacts:
      - {path: points.csv, format: csv, columns: [i, status, seconds]}
      - {path: points.json, format: json}
`)
	return b.Bytes()
}

// pointClock is the run's progress output; it notes when each point ends
// (its "point ok in" line).
type pointClock struct {
	mu    sync.Mutex
	start time.Time
	ends  []time.Time
}

func (c *pointClock) Write(b []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "] point ") {
			c.ends = append(c.ends, now)
		}
	}
	return len(b), nil
}

// mean is the milliseconds per point from since to the last of ends.
func mean(since time.Time, ends []time.Time) float64 {
	return float64(ends[len(ends)-1].Sub(since).Microseconds()) / 1000 / float64(len(ends))
}
