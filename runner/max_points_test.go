package runner_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// gridSpec is one study over axes a, b, c of the given lengths; the launch
// refers to a only, so its points substitute to 100 distinct step lists.
func gridSpec(maxPoints string, a, b, c int) string {
	list := func(n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprint(i)
		}
		return "[" + strings.Join(v, ", ") + "]"
	}
	return `version: runexp/v1
name: grid
` + maxPoints + `studies:
  - name: s
    sweep:
      axes:
        a: ` + list(a) + `
        b: ` + list(b) + `
        c: ` + list(c) + `
    steps:
      - id: server
        type: launch
        with:
          command: [runexp, sim, serve, m, --note, "${a}"]
          port: 8100
      - {id: ready, type: wait-ready}
      - {id: stop, type: teardown, always: true}
`
}

// A sweep above max_points is one positioned error at the sweep, found by
// counting (a 10^8-point sweep would need gigabytes to expand), for
// validate (CountOnly) as for plan and run.
func TestSweepAboveMaxPointsIsAPositionedErrorBeforeExpanding(t *testing.T) {
	path := writeSpec(t, gridSpec("", 1000, 1000, 100))
	for _, countOnly := range []bool{true, false} {
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir(), CountOnly: countOnly})
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		var list spec.ErrorList
		if !errors.As(err, &list) || len(list) != 1 {
			t.Fatalf("CountOnly=%v: got %v, want one spec error", countOnly, err)
		}
		e := list[0]
		if e.Pos.Line != 6 || e.Path != "studies[0].sweep" ||
			!strings.Contains(e.Msg, "100000000 points, more than max_points (100000)") {
			t.Errorf("CountOnly=%v: got %s (path %s), want the cap error at the sweep (line 6)", countOnly, e, e.Path)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("CountOnly=%v: allocated %d MB to refuse the sweep; it must not be expanded", countOnly, grew>>20)
		}
	}
}

// max_points raises (or lowers) the cap, and must be a positive count.
func TestMaxPointsSetsTheCapAndMustBePositive(t *testing.T) {
	low := writeSpec(t, gridSpec("max_points: 7\n", 2, 2, 2))
	_, err := runner.Load(low, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "the sweep has 8 points, more than max_points (7)") {
		t.Errorf("max_points 7, 8 points: got %v", err)
	}
	exact := writeSpec(t, gridSpec("max_points: 8\n", 2, 2, 2))
	if p, err := runner.Load(exact, steps.Builtin(), runner.Options{OutDir: t.TempDir()}); err != nil || len(p.Studies[0].Points) != 8 {
		t.Errorf("max_points 8, 8 points: got %v", err)
	}
	zero := writeSpec(t, gridSpec("max_points: 0\n", 2, 2, 2))
	_, err = runner.Load(zero, steps.Builtin(), runner.Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "x.yaml:3:13: max_points: must be at least 1, got 0") &&
		!strings.Contains(err.Error(), ":3:13: max_points: must be at least 1, got 0") {
		t.Errorf("max_points 0: got %v", err)
	}
}

// Validating (CountOnly) a million-point sweep checks every point without
// holding them: the heap in use stays far below what the points would take.
func TestValidateOfAMillionPointsStaysWithinAHeapBound(t *testing.T) {
	if testing.Short() {
		t.Skip("walks a million points")
	}
	path := writeSpec(t, gridSpec("max_points: 1000000\n", 100, 100, 100))
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample the heap while validation runs
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	p, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir(), CountOnly: true})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Studies[0].PointCount; n != 1_000_000 || len(p.Studies[0].Points) != 0 {
		t.Errorf("PointCount %d, %d points kept; want 1000000 counted, none kept", n, len(p.Studies[0].Points))
	}
	const bound = 200 << 20
	if peak > bound {
		t.Errorf("peak heap in use %d MB, want at most %d MB", peak>>20, bound>>20)
	}
	t.Logf("peak heap in use: %d MB", peak>>20)
}
