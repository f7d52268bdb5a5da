package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/report"
)

// writeRunFolder lays out a small run folder by hand: one study with a
// failed point, a chart, notes and a CSV.
func writeRunFolder(t *testing.T, status string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"manifest.json": `{"runexp_version":"v9","experiment":"demo","spec_sha256":"abc","status":"` + status + `",
			"journal":"points.jsonl","start":"2026-01-02T03:04:05Z","end":"2026-01-02T03:05:05Z",
			"gpus":[{"index":0,"uuid":"GPU-1234","name":"NVIDIA H100","driver":"550.1"}],
			"points":[{"study":"s","id":"000","label":"n=1","status":"ok","dir":"s/000_n-1"},
			          {"study":"s","id":"001","label":"n=2","status":"failed","phase":"ready","error":"not ready in 5s","dir":"s/001_n-2"}]}`,
		"points.jsonl": `{"study":"s","id":"000","label":"n=1","status":"ok","dir":"s/000_n-1"}` + "\n" +
			`{"study":"s","id":"001","label":"n=2","status":"failed","error":"not ready in 5s","dir":"s/001_n-2"}` + "\n" + `{"study":"s","id":"0`,
		"plan.json": `{"experiment":"demo","description":"Does n matter?","studies":[{"name":"s","description":"one per n",
			"artifacts":[{"path":"t.csv","format":"csv"},{"path":"notes.md","format":"markdown"},{"path":"c.svg","format":"chart","chart":{"title":"n vs x","x":"n","y":["x"]}}]}]}`,
		"s/000_n-1/result.json": `{"study":"s","id":"000","status":"ok","sweep":[{"name":"n","value":1}],"values":{"x":1.5}}`,
		"s/001_n-2/result.json": `{"study":"s","id":"001","status":"failed","phase":"ready","error":"not ready in 5s",
			"log_tail":"Traceback: CUDA out of memory","sweep":[{"name":"n","value":2}],"values":{}}`,
		"s/t.csv":    "n,x,status\n1,1.5,ok\n2,,failed\n",
		"s/notes.md": "# Notes\n\nn=1 is **fine**.\n\n<script>alert(1)</script>\n\n| a | b |\n| - | - |\n| 1 | 2 |\n",
		"s/c.svg": `<?xml version="1.0"?>
<!-- Generated -->
<svg width="100pt" height="50pt" viewBox="0 0 100 50" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(2)">
<script>alert(3)</script><path d="M0,0L100,50"/></svg>`,
	}
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func render(t *testing.T, dir string) string {
	t.Helper()
	run, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, run, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The page shows the spec's question, the manifest, the study's notes,
// chart (with its exact values) and table, the failed point with its log tail, and links every
// file; it names no http(s) address and runs no script of the artifacts.
func TestReportShowsEverySectionAndReferencesNothingOutsideItself(t *testing.T) {
	page := render(t, writeRunFolder(t, "failed"))
	for _, want := range []string{
		"Does n matter?", "one per n", "GPU-1234", "550.1", "v9", "1m0s",
		"<strong>fine</strong>", "<table>", // notes through goldmark, GFM tables on
		`<figure class="chart" data-artifact="s/c.svg"><svg viewBox="0 0 100 50"`,
		`<table class="sortable result-table" data-artifact="s/t.csv">`, "<td>1.5</td>",
		"Exact values", "<tr><td>1</td><td>1.5</td></tr>", // the chart's numbers, n from the sweep
		`id="failed"`, "not ready in 5s", "Traceback: CUDA out of memory",
		`href="./s/t.csv"`, `href="./manifest.json"`, `href="./s/001_n-2/result.json"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "alert(", "<?xml", "simulated-banner"} {
		if strings.Contains(page, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
}

// A run still going (or killed) has its points in the journal: the report
// reads them from there, skipping a torn last line.
func TestLoadReadsTheJournalOfARunThatDidNotEnd(t *testing.T) {
	dir := writeRunFolder(t, "running")
	manifest := filepath.Join(dir, "manifest.json")
	data, _ := os.ReadFile(manifest)
	data = []byte(strings.Replace(string(data), `"points":[`, `"points":[],"old":[`, 1))
	os.WriteFile(manifest, data, 0o644)
	run, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Points) != 2 || run.Points[1].LogTail == "" {
		t.Errorf("points %+v", run.Points)
	}
}

// A simulator run says so at the top of its report.
func TestReportOfASimulatedRunCarriesTheBanner(t *testing.T) {
	dir := writeRunFolder(t, "ok")
	os.WriteFile(filepath.Join(dir, "s/000_n-1/result.json"),
		[]byte(`{"study":"s","id":"000","status":"ok","values":{"data":"SIMULATED"}}`), 0o644)
	if page := render(t, dir); !strings.Contains(page, `id="simulated-banner"`) {
		t.Error("no SIMULATED banner")
	}
}

// A report written outside its run folder (runexp report -o) still links
// the folder's files.
func TestReportWrittenElsewhereLinksIntoTheRunFolder(t *testing.T) {
	dir := writeRunFolder(t, "ok")
	out := filepath.Join(t.TempDir(), "pages", "r.html")
	os.MkdirAll(filepath.Dir(out), 0o755)
	if err := report.WriteFile(dir, out, report.Options{}); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(out)
	rel, _ := filepath.Rel(filepath.Dir(out), dir)
	for _, file := range []string{"manifest.json", "s/t.csv"} {
		href := `href="./` + rel + `/./` + file + `"`
		if !strings.Contains(string(page), href) {
			t.Errorf("no link %s", href)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, report.FileName)); err == nil {
		t.Error("-o elsewhere also wrote the run folder's report.html")
	}
}

// A CSV artifact that is not CSV costs its table, not the report.
func TestReportSurvivesAnUnreadableTable(t *testing.T) {
	dir := writeRunFolder(t, "ok")
	os.WriteFile(filepath.Join(dir, "s", "t.csv"), []byte("a,\"b\n1,2\n"), 0o644)
	if page := render(t, dir); !strings.Contains(page, "Not readable as a table") || !strings.Contains(page, "<strong>fine</strong>") {
		t.Error("the report should say the table is unreadable and show the rest")
	}
}
