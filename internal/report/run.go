// Package report reads a finished (or interrupted, or killed) run folder and
// renders it as one self-contained report.html.
//
// Contract: Load reads only what the runner leaves in a run folder
// (manifest.json, the points.jsonl journal, plan.json, each point's
// result.json, the studies' artifact files) and never writes. Render writes
// HTML that references nothing outside itself except relative links to the
// run folder's own files: no network resource, no external font, script or
// stylesheet; tables and charts are readable without JavaScript. The package
// does not import the runner (the runner imports it to write the report at
// the end of a run), so it decodes the folder's JSON files itself.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// FileName is the report's name inside a run folder.
const FileName = "report.html"

// Run is what a run folder holds, as the report and compare need it.
type Run struct {
	Dir      string
	Manifest Manifest
	Plan     Plan
	Points   []Point
	Files    []string // every file of the folder, slash-separated, relative, sorted
}

// Manifest is the part of runner.Manifest the report shows.
type Manifest struct {
	Runexp     string          `json:"runexp_version"`
	Experiment string          `json:"experiment"`
	SpecFile   string          `json:"spec_file"`
	SpecSHA256 string          `json:"spec_sha256"`
	GitCommit  string          `json:"git_commit"`
	GitDirty   bool            `json:"git_dirty"`
	Overrides  []string        `json:"overrides"`
	Host       string          `json:"host"`
	OS         string          `json:"os"`
	GoVersion  string          `json:"go_version"`
	Start      time.Time       `json:"start"`
	End        *time.Time      `json:"end"`
	Status     string          `json:"status"`
	Journal    string          `json:"journal"`
	GPUs       []GPU           `json:"gpus"`
	Points     []ManifestPoint `json:"points"`
}

// GPU is a device the run's GPU backends saw.
type GPU struct {
	Index       int    `json:"index"`
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	MemoryTotal uint64 `json:"memory_total_bytes"`
	Driver      string `json:"driver"`
}

// ManifestPoint is one point's line in the manifest or the journal.
type ManifestPoint struct {
	Study   string  `json:"study"`
	ID      string  `json:"id"`
	Label   string  `json:"label"`
	Status  string  `json:"status"`
	Phase   string  `json:"phase"`
	Error   string  `json:"error"`
	Seconds float64 `json:"seconds"`
	Dir     string  `json:"dir"`
}

// Duration is how long the run took, or zero when it has no end.
func (m Manifest) Duration() time.Duration {
	if m.End == nil {
		return 0
	}
	return m.End.Sub(m.Start)
}

// Plan is the part of plan.json the report shows.
type Plan struct {
	Experiment  string  `json:"experiment"`
	Description string  `json:"description"`
	Studies     []Study `json:"studies"`
}

// Study is one study of the plan.
type Study struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Dir         string     `json:"dir"` // absolute at run time; the report uses Name
	Artifacts   []Artifact `json:"artifacts"`
}

// Artifact is one artifact a study declares.
type Artifact struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	From   string `json:"from"` // "" or "points": one row per point; else a table name
	Chart  *struct {
		Title string   `json:"title"`
		X     string   `json:"x"`
		Y     []string `json:"y"`
	} `json:"chart"`
}

// Point is one point's result.json (or, when that is missing, its manifest line).
type Point struct {
	Study   string                      `json:"study"`
	ID      string                      `json:"id"`
	Slug    string                      `json:"slug"`
	Label   string                      `json:"label"`
	Sweep   []SweepValue                `json:"sweep"`
	Status  string                      `json:"status"`
	Phase   string                      `json:"phase"`
	Error   string                      `json:"error"`
	LogTail string                      `json:"log_tail"`
	Cleanup string                      `json:"cleanup_error"`
	Seconds float64                     `json:"seconds"`
	Values  map[string]any              `json:"values"`
	Tables  map[string][]map[string]any `json:"tables"`
	Dir     string                      `json:"-"` // relative to the run folder
}

// SweepValue is one axis value of a point.
type SweepValue struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// SweepKey is the point's configuration as text ("a=1,b=x"), the same for
// the same sweep values in any run; repeats of one configuration share it.
func (p Point) SweepKey() string {
	parts := make([]string, len(p.Sweep))
	for i, v := range p.Sweep {
		parts[i] = fmt.Sprintf("%s=%v", v.Name, v.Value)
	}
	return strings.Join(parts, ",")
}

// Load reads the run folder dir. A missing result.json (a killed run) is
// not an error: the point keeps what the manifest or journal says.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &r.Manifest); err != nil {
		return nil, err
	}
	// While a run is going (or after it was killed) the journal has the points.
	if r.Manifest.Status == "running" && r.Manifest.Journal != "" {
		if points, err := readJournal(filepath.Join(dir, r.Manifest.Journal)); err == nil && len(points) > len(r.Manifest.Points) {
			r.Manifest.Points = points
		}
	}
	if err := readJSON(filepath.Join(dir, "plan.json"), &r.Plan); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, mp := range r.Manifest.Points {
		p := Point{Study: mp.Study, ID: mp.ID, Label: mp.Label, Status: mp.Status, Phase: mp.Phase,
			Error: mp.Error, Seconds: mp.Seconds}
		if err := readJSON(filepath.Join(dir, filepath.FromSlash(mp.Dir), "result.json"), &p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		p.Dir = filepath.ToSlash(mp.Dir)
		r.Points = append(r.Points, p)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") || d.Name() == FileName {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err == nil {
			r.Files = append(r.Files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(r.Files)
	return r, nil
}

// Simulated reports whether any number of the run came from runexp's
// simulator rather than a measurement.
func (r *Run) Simulated() bool {
	for _, g := range r.Manifest.GPUs {
		if strings.HasPrefix(g.UUID, "GPU-sim") || strings.Contains(g.Name, "(simulated)") {
			return true
		}
	}
	for _, p := range r.Points {
		if p.Values["data"] == "SIMULATED" || p.Values["gpu_backend"] == "sim" {
			return true
		}
		for _, rows := range p.Tables {
			for _, row := range rows {
				if row["data"] == "SIMULATED" {
					return true
				}
			}
		}
	}
	return false
}

// StudyPoints returns the points of the study named name, in run order.
func (r *Run) StudyPoints(name string) []Point {
	var out []Point
	for _, p := range r.Points {
		if p.Study == name {
			out = append(out, p)
		}
	}
	return out
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readJournal returns the journal's points, skipping a torn last line.
func readJournal(path string) ([]ManifestPoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var points []ManifestPoint
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var mp ManifestPoint
		if json.Unmarshal(sc.Bytes(), &mp) == nil {
			points = append(points, mp)
		}
	}
	return points, sc.Err()
}
