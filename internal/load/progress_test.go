package load_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// While a mode runs, OnProgress gets its counts every ProgressInterval
// (warm-up excluded), then a final report with every request counted.
func TestProgressReportsCountsWhileAModeRuns(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 40 * time.Millisecond, Tokens: 3})
	defer srv.Close()
	cfg := cfgFor(srv.URL, true, load.Mode{Kind: load.KindSequential, Requests: 4})
	cfg.Warmup = 2
	cfg.ProgressInterval = 10 * time.Millisecond
	var reports []load.Progress
	cfg.OnProgress = func(p load.Progress) { reports = append(reports, p) } // one goroutine: no lock
	if _, err := load.Run(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	if len(reports) < 3 {
		t.Fatalf("%d reports", len(reports))
	}
	midway := false
	for _, p := range reports[:len(reports)-1] {
		if p.Final || p.Completed > 4 || p.InFlight > 1 || p.Total != 4 || p.Mode != "sequential" {
			t.Errorf("report %+v", p)
		}
		midway = midway || (p.InFlight == 1 && p.Completed < 4)
	}
	if !midway {
		t.Error("no report showed a request in flight")
	}
	last := reports[len(reports)-1]
	if !last.Final || last.Completed != 4 || last.InFlight != 0 || last.OutputTokens != 12 || last.RequestRate() <= 0 {
		t.Errorf("final report %+v", last)
	}
}

// The ETA follows the pace so far (by count) or the mode's duration.
func TestProgressETAFollowsThePaceOrTheDuration(t *testing.T) {
	p := load.Progress{Total: 100, Completed: 20, Failed: 5, Elapsed: 5 * time.Second}
	if eta, ok := p.ETA(); !ok || eta != 15*time.Second {
		t.Errorf("by count: %v %v, want 15s", eta, ok)
	}
	p = load.Progress{Duration: time.Minute, Elapsed: 20 * time.Second}
	if eta, ok := p.ETA(); !ok || eta != 40*time.Second {
		t.Errorf("by duration: %v %v, want 40s", eta, ok)
	}
	if _, ok := (load.Progress{Total: 10}).ETA(); ok {
		t.Error("an ETA before any request ended")
	}
}

// On a terminal the line is redrawn in place (\r, padded over a longer
// previous line) and ended at the mode's end; in a log each report is a
// plain line and the end adds none.
func TestProgressPrinterRedrawsOnATerminalAndWritesLinesElsewhere(t *testing.T) {
	long := load.Progress{Mode: "concurrent", Total: 1000, Completed: 500, InFlight: 32, OutputTokens: 9999, Elapsed: time.Second}
	short := load.Progress{Mode: "concurrent", Total: 1000, Completed: 1000, Elapsed: 2 * time.Second, Final: true}
	var term bytes.Buffer
	pr := load.ProgressPrinter(&term, true)
	pr(long)
	pr(short)
	got := term.String()
	if strings.Count(got, "\r") != 2 || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
		t.Errorf("terminal output %q", got)
	}
	first, second, _ := strings.Cut(strings.TrimPrefix(got, "\r"), "\r")
	if len(strings.TrimSuffix(second, "\n")) < len(first) {
		t.Errorf("the shorter line does not cover the longer one: %q", got)
	}
	for _, want := range []string{"500/1000 done", "32 in flight", "500.0 req/s", "9999 tok/s", "1s elapsed", "ETA 1s"} {
		if !strings.Contains(first, want) {
			t.Errorf("line %q lacks %q", first, want)
		}
	}
	var log bytes.Buffer
	pr = load.ProgressPrinter(&log, false)
	pr(long)
	pr(long)
	pr(short)
	if strings.Count(log.String(), "\n") != 2 || strings.Contains(log.String(), "\r") {
		t.Errorf("log output %q", log.String())
	}
}
