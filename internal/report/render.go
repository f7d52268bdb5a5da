package report

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/runexp/runexp/internal/compare"
	"github.com/runexp/runexp/spec"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"change": compare.FormatChange,
	"duration": func(d time.Duration) string {
		if d == 0 {
			return "—"
		}
		return d.Round(time.Millisecond).String()
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"mib":  func(b uint64) string { return fmt.Sprintf("%d MiB", b>>20) },
	"href": escapePath,
}).Parse(pageTemplate))

// maxTableRows bounds a table in the page (the CSV stays linked in full),
// and maxFailedShown the failed points shown with their log tails, so a
// 10,000-point run still gives a page a browser opens.
const (
	maxTableRows   = 2000
	maxFailedShown = 200
)

// Options configure Render.
type Options struct {
	// Baseline, when set, adds a comparison of the run against it.
	Baseline *Run
	// Compare configures that comparison (default metrics, 5% threshold when zero).
	Compare compare.Options
	// LinkBase is the run folder as seen from the page ("" when the page is
	// in the run folder), prefixed to every link to the folder's files.
	LinkBase string
}

// Render writes run's report as one self-contained HTML page.
func Render(w io.Writer, run *Run, opt Options) error {
	data, err := buildPage(run, opt)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// WriteFile renders the report of the run folder dir to dir/report.html
// (or to out when not empty), through a temp file so a reader never sees
// half a page.
func WriteFile(dir, out string, opt Options) error {
	run, err := Load(dir)
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(dir, FileName)
	}
	if opt.LinkBase == "" {
		opt.LinkBase = linkBase(dir, filepath.Dir(out))
	}
	var buf bytes.Buffer
	if err := Render(&buf, run, opt); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(buf.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

type pageData struct {
	Base        string // LinkBase, ending in a slash when not empty
	Run         *Run
	Title       string
	Simulated   bool
	Studies     []studyData
	Failed      []Point
	FailedCount int // every point that did not succeed
	// FailedLeftOut counts failed points beyond maxFailedShown.
	FailedLeftOut int
	Comparison    *comparisonData
	Files         []fileLink
}

type studyData struct {
	Name, Anchor, Description string
	Notes                     []noteData
	Charts                    []chartData
	Tables                    []tableData
	Points                    []Point
	PointsLeftOut             int // beyond maxTableRows; result.json files stay linked
}

type noteData struct {
	Path string
	HTML template.HTML
}

type chartData struct {
	Path, Title string
	SVG         template.HTML
	Values      *tableData // the exact values of an x/y chart over points
}

type tableData struct {
	Path      string
	Header    []string
	Rows      [][]string
	Truncated int    // rows left out
	Error     string // why the file could not be read as a table
}

type comparisonData struct {
	Base   string
	Result *compare.Result
}

type fileLink struct {
	Href, Name string
	Size       int64
}

func buildPage(run *Run, opt Options) (*pageData, error) {
	d := &pageData{Base: opt.LinkBase, Run: run, Title: run.Plan.Experiment, Simulated: run.Simulated()}
	if d.Base != "" && !strings.HasSuffix(d.Base, "/") {
		d.Base += "/"
	}
	if d.Title == "" {
		d.Title = run.Manifest.Experiment
	}
	studies := run.Plan.Studies
	if len(studies) == 0 { // no plan.json: the studies the points name
		seen := map[string]bool{}
		for _, p := range run.Points {
			if !seen[p.Study] {
				seen[p.Study] = true
				studies = append(studies, Study{Name: p.Study})
			}
		}
	}
	for i, s := range studies {
		sd, err := buildStudy(run, s, i)
		if err != nil {
			return nil, err
		}
		d.Studies = append(d.Studies, sd)
	}
	for _, p := range run.Points {
		if p.Status == "ok" {
			continue
		}
		d.FailedCount++
		if len(d.Failed) == maxFailedShown {
			d.FailedLeftOut++
			continue
		}
		d.Failed = append(d.Failed, p)
	}
	if opt.Baseline != nil {
		copt := opt.Compare
		if copt.Threshold == 0 {
			copt.Threshold = 0.05
		}
		d.Comparison = &comparisonData{Base: opt.Baseline.Dir,
			Result: compare.Compare(opt.Baseline.ComparePoints(), run.ComparePoints(), copt)}
	}
	for _, f := range run.Files {
		fl := fileLink{Href: escapePath(f), Name: f}
		if st, err := os.Stat(filepath.Join(run.Dir, filepath.FromSlash(f))); err == nil {
			fl.Size = st.Size()
		}
		d.Files = append(d.Files, fl)
	}
	return d, nil
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

func buildStudy(run *Run, s Study, i int) (studyData, error) {
	sd := studyData{Name: s.Name, Anchor: fmt.Sprintf("study-%d", i), Description: s.Description,
		Points: run.StudyPoints(s.Name)}
	if len(sd.Points) > maxTableRows {
		sd.PointsLeftOut = len(sd.Points) - maxTableRows
		sd.Points = sd.Points[:maxTableRows]
	}
	for _, a := range s.Artifacts {
		rel := path.Join(s.Name, a.Path)
		file := filepath.Join(run.Dir, filepath.FromSlash(rel))
		data, err := os.ReadFile(file)
		if err != nil {
			continue // not written (an interrupted study); the files list shows what is there
		}
		switch a.Format {
		case "markdown":
			var buf bytes.Buffer
			if err := markdown.Convert(data, &buf); err != nil {
				return sd, fmt.Errorf("%s: %w", rel, err)
			}
			sd.Notes = append(sd.Notes, noteData{Path: rel, HTML: template.HTML(buf.String())})
		case "chart":
			title := a.Path
			if a.Chart != nil && a.Chart.Title != "" {
				title = a.Chart.Title
			}
			sd.Charts = append(sd.Charts, chartData{Path: rel, Title: title, SVG: inlineSVG(data), Values: chartValues(a, sd.Points)})
		case "csv":
			t, err := readTable(data)
			if err != nil {
				// One unreadable file must not cost the whole report.
				t = tableData{Error: err.Error()}
			}
			t.Path = rel
			sd.Tables = append(sd.Tables, t)
		}
	}
	return sd, nil
}

// chartValues is the table behind a chart of point values against x: the
// exact numbers a reader cannot take off the drawing.
func chartValues(a Artifact, points []Point) *tableData {
	if a.Chart == nil || a.Chart.X == "" || len(a.Chart.Y) == 0 || (a.From != "" && a.From != "points") {
		return nil
	}
	t := &tableData{Header: append([]string{a.Chart.X}, a.Chart.Y...)}
	for _, p := range points {
		if p.Status != "ok" {
			continue
		}
		row := []string{cell(p.Values[a.Chart.X], p, a.Chart.X)}
		for _, y := range a.Chart.Y {
			row = append(row, cell(p.Values[y], p, y))
		}
		t.Rows = append(t.Rows, row)
	}
	if len(t.Rows) == 0 {
		return nil
	}
	return t
}

// cell is a value as text; a sweep axis is looked up in the sweep when the
// values do not carry it.
func cell(v any, p Point, name string) string {
	if v == nil {
		for _, s := range p.Sweep {
			if s.Name == name {
				v = s.Value
			}
		}
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func readTable(data []byte) (tableData, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil || len(records) == 0 {
		return tableData{}, err
	}
	t := tableData{Header: records[0], Rows: records[1:]}
	if len(t.Rows) > maxTableRows {
		t.Truncated = len(t.Rows) - maxTableRows
		t.Rows = t.Rows[:maxTableRows]
	}
	return t, nil
}

var (
	xmlProlog    = regexp.MustCompile(`(?s)<\?xml.*?\?>|<!DOCTYPE[^>]*>|<!--.*?-->`)
	xmlnsAttr    = regexp.MustCompile(`\s+xmlns(:\w+)?="[^"]*"`)
	svgSizeAttrs = regexp.MustCompile(`(<svg[^>]*?)\s+(width|height)="[^"]*"`)
	scriptTag    = regexp.MustCompile(`(?is)<script.*?</script>|\son\w+="[^"]*"`)
)

// inlineSVG prepares a chart file for inlining in HTML: no XML prolog, no
// namespace URLs (the HTML parser supplies the SVG namespace, and the page
// then names no http:// address at all), no fixed size (CSS scales it), and
// nothing executable.
func inlineSVG(data []byte) template.HTML {
	s := xmlProlog.ReplaceAllString(string(data), "")
	s = xmlnsAttr.ReplaceAllString(s, "")
	s = scriptTag.ReplaceAllString(s, "")
	for svgSizeAttrs.MatchString(s) {
		s = svgSizeAttrs.ReplaceAllString(s, "$1")
	}
	return template.HTML(strings.TrimSpace(s))
}

// escapePath makes a relative, slash-separated file path a relative URL.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		parts[i] = url.PathEscape(part)
	}
	// "./" keeps a name with a colon from reading as a URL scheme.
	return "./" + strings.Join(parts, "/")
}

// linkBase is the run folder dir as a relative URL from the folder the
// page is written to: "" when they are the same, else a relative path.
func linkBase(dir, pageDir string) string {
	absDir, err1 := filepath.Abs(dir)
	absPage, err2 := filepath.Abs(pageDir)
	if err1 != nil || err2 != nil {
		return ""
	}
	if absDir == absPage {
		return ""
	}
	rel, err := filepath.Rel(absPage, absDir)
	if err != nil {
		return ""
	}
	return escapePath(filepath.ToSlash(rel)) + "/"
}

// ComparePoints returns the run's points for compare.Compare, keyed by
// their sweep values without the repetition index: a sweep's repetitions
// are one sample.
func (r *Run) ComparePoints() []compare.Point {
	out := make([]compare.Point, len(r.Points))
	for i, p := range r.Points {
		sweep := slices.DeleteFunc(slices.Clone(p.Sweep), func(v SweepValue) bool { return v.Name == spec.RepeatAxis })
		key := Point{Sweep: sweep}.SweepKey()
		out[i] = compare.Point{Study: p.Study, Key: key, OK: p.Status == "ok", Values: p.Values}
	}
	return out
}
