package report_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/runexp/runexp/internal/report"
)

// findChromium returns a Chromium or Chrome binary: $RUNEXP_CHROMIUM, or
// the first of the usual names on PATH. .ci/run installs Debian's chromium
// and sets RUNEXP_REQUIRE_CHROMIUM, so there a missing browser fails.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RUNEXP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("RUNEXP_REQUIRE_CHROMIUM") != "" {
		t.Fatal("RUNEXP_REQUIRE_CHROMIUM is set but no Chromium was found")
	}
	t.Skip("no Chromium found (install Debian's chromium, or set RUNEXP_CHROMIUM); .ci/run installs it")
	return ""
}

// artifactDir is where a test leaves files for people to look at:
// $RUNEXP_TEST_ARTIFACTS when set, else a temp folder.
func artifactDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("RUNEXP_TEST_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// browser starts a headless Chromium for one test. The network is closed on
// CI machines, so everything that phones home is off.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(findChromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// pageWatch records what a page does that a self-contained report must not:
// console errors, exceptions, and requests for anything but file:// URLs.
type pageWatch struct {
	mu       sync.Mutex
	errors   []string
	requests []string
}

func (w *pageWatch) listen(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			w.errors = append(w.errors, "console."+string(e.Type))
		}
	case *runtime.EventExceptionThrown:
		w.errors = append(w.errors, "exception: "+e.ExceptionDetails.Text)
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			w.errors = append(w.errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		w.requests = append(w.requests, e.Request.URL)
	}
}

type box struct {
	Artifact      string
	Width, Height float64
}

// The day007 simulator run's report.html, opened from a file:// URL in
// headless Chromium, loads nothing else, logs no error, shows the SIMULATED
// banner, draws every chart in a non-empty box and has one table row per
// point and per CSV line; a click sorts a table.
func TestDay007ReportRendersInChromiumSelfContained(t *testing.T) {
	ctx := browser(t)
	run := runDay007OnSimulator(t, t.TempDir())
	page := filepath.Join(run, report.FileName)
	if _, err := os.Stat(page); err != nil {
		t.Fatalf("the run wrote no report: %v", err)
	}

	watch := &pageWatch{}
	if err := chromedp.Listen(ctx, watch.listen); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
			return err
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
			return err
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{})
			return err
		}),
		chromedp.Navigate((&url.URL{Scheme: "file", Path: page}).String()),
	)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(expr string, out any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if err := jsonUnmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v (%s)", expr, err, raw)
		}
	}

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shotPath := filepath.Join(artifactDir(t), "day007-report-first-screen.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the first screen: %s", shotPath)

	var banner struct {
		Visible bool
		Text    string
	}
	eval(`(() => { const b = document.getElementById("simulated-banner"); if (!b) return {Visible: false, Text: ""};
		const r = b.getBoundingClientRect(), s = getComputedStyle(b);
		return {Visible: r.width > 0 && r.height > 0 && r.top < innerHeight && s.visibility === "visible" && s.display !== "none", Text: b.textContent}; })()`, &banner)
	if !banner.Visible || !strings.Contains(banner.Text, "SIMULATED") {
		t.Errorf("SIMULATED banner not visible on the first screen: %+v", banner)
	}

	var charts []box
	eval(`Array.from(document.querySelectorAll("figure.chart")).map(f => { const r = f.querySelector("svg").getBoundingClientRect();
		return {Artifact: f.dataset.artifact, Width: r.width, Height: r.height}; })`, &charts)
	// Every chart the run wrote is on the page.
	svgs, _ := filepath.Glob(filepath.Join(run, "*", "*.svg"))
	if len(svgs) < 2 || len(charts) != len(svgs) {
		t.Errorf("want the %d chart artifacts of day007 (%v), got %+v", len(svgs), svgs, charts)
	}
	for _, c := range charts {
		if c.Width < 100 || c.Height < 100 {
			t.Errorf("chart %s rendered in a %vx%v box", c.Artifact, c.Width, c.Height)
		}
	}

	var rows map[string]int
	eval(`Object.fromEntries(Array.from(document.querySelectorAll("table")).map(t =>
		[t.dataset.artifact || ("points:" + t.dataset.study), t.tBodies[0].rows.length]))`, &rows)
	want := map[string]int{
		"kv-scaling/kv_cache_scaling.csv": 4, "points:kv-scaling": 4,
		"batching/load_summary.csv": 2, "batching/requests.csv": 64, "points:batching": 1,
	}
	for table, n := range want {
		if rows[table] != n {
			t.Errorf("table %s: %d rows, want %d (all: %v)", table, rows[table], n, rows)
		}
	}

	var firstAfterSort []string
	eval(`(() => { const t = document.querySelector('table[data-artifact="kv-scaling/kv_cache_scaling.csv"]');
		const th = t.tHead.rows[0].cells[0]; th.click(); th.click();
		return [t.tBodies[0].rows[0].cells[0].textContent, th.getAttribute("aria-sort")]; })()`, &firstAfterSort)
	if len(firstAfterSort) != 2 || firstAfterSort[0] != "4096" || firstAfterSort[1] != "descending" {
		t.Errorf("two clicks on max_model_len should sort descending with 4096 first, got %v", firstAfterSort)
	}

	// Late events (a failed subresource) arrive asynchronously.
	time.Sleep(300 * time.Millisecond)
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if len(watch.errors) > 0 {
		t.Errorf("console errors: %q", watch.errors)
	}
	if len(watch.requests) == 0 {
		t.Error("saw no request at all: the network watch is not working")
	}
	for _, u := range watch.requests {
		if !strings.HasPrefix(u, "file://") {
			t.Errorf("request other than file://: %s", u)
		}
	}
}

func jsonUnmarshal(raw []byte, out any) error {
	if len(raw) == 0 {
		return errors.New("empty result")
	}
	return json.Unmarshal(raw, out)
}
