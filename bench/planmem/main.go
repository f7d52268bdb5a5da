// Command planmem prints the peak resident memory of `runexp validate` and
// `runexp plan --json` on a generated spec of 10^6 points (max_points raised
// to allow it), each run as its own process so that one's heap does not
// count for the other:
//
//	go build -o /tmp/runexp ./cmd/runexp && go run ./bench/planmem -runexp /tmp/runexp
//
// The spec's launch refers to ${point.dir}, so no two points substitute to
// the same step list: the worst case for validate.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("runexp", "runexp", "the runexp binary to measure")
	points := flag.Int("points", 1_000_000, "points in the generated sweep (a multiple of 10000)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "planmem")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(path, []byte(spec(*points)), 0o644); err != nil {
		fail(err)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"validate", []string{"validate", path}},
		{"plan --json", []string{"plan", "--json", "--out", dir, path}},
	} {
		cmd := exec.Command(*bin, c.args...)
		cmd.Stdout = io.Discard // plan --json of 10^6 points is about a gigabyte of text
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		rss := int64(0)
		if u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = u.Maxrss // KiB on Linux
		}
		status := "ok"
		if err != nil {
			status = fmt.Sprintf("%v: %.300s", err, stderr.String())
		}
		fmt.Printf("%-16s %d points  peak RSS %6d MB  %6.1f s  %s\n",
			c.name, *points, rss/1024, time.Since(start).Seconds(), status)
	}
}

// spec is one study over three axes whose product is n points.
func spec(n int) string {
	list := func(k int) string {
		v := make([]string, k)
		for i := range v {
			v[i] = strconv.Itoa(i)
		}
		return "[" + strings.Join(v, ", ") + "]"
	}
	return fmt.Sprintf(`version: runexp/v1
name: planmem
max_points: %d
studies:
  - name: grid
    sweep:
      axes: {a: %s, b: %s, c: %s}
    steps:
      - id: server
        type: launch
        with:
          command: [runexp, sim, serve, m, --note, "${a}-${b}-${c}"]
          port: 8100
          env: {DIR: "${point.dir}"}
      - {id: ready, type: wait-ready}
      - {id: stop, type: teardown, always: true}
`, n, list(n/10000), list(100), list(100))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "planmem:", err)
	os.Exit(1)
}
