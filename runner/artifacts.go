package runner

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// Row is one artifact row: a point (from: points) or a table row.
type Row = results.Row

// pointRow flattens a point result into a row: point id, sweep values, every
// recorded value, then status, phase and error.
func pointRow(pr *PointResult) (Row, []string) {
	row := Row{}
	var order []string
	set := func(k string, v any) {
		if _, ok := row[k]; !ok {
			order = append(order, k)
		}
		row[k] = results.Finite(v)
	}
	set("point", pr.ID)
	for _, v := range pr.Sweep {
		set(v.Name, v.Value)
	}
	for _, k := range pr.Values.Keys() {
		v, _ := pr.Values.Get(k)
		set(k, v)
	}
	set("status", pr.Status)
	set("phase", pr.Phase)
	set("error", pr.Error)
	set("seconds", pr.Seconds)
	return row, order
}

// tableRows returns a named table across points, each row prefixed with the
// point id and sweep values.
func tableRows(points []*PointResult, table string) ([]Row, []string) {
	var rows []Row
	var order []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	for _, pr := range points {
		for _, tv := range pr.Tables[table] {
			row := Row{"point": pr.ID}
			add("point")
			for _, v := range pr.Sweep {
				row[v.Name] = v.Value
				add(v.Name)
			}
			for _, k := range tv.Keys() {
				x, _ := tv.Get(k)
				row[k] = results.Finite(x)
				add(k)
			}
			rows = append(rows, row)
		}
	}
	return rows, order
}

func studyRows(points []*PointResult) ([]Row, []string) {
	var rows []Row
	var order []string
	seen := map[string]bool{}
	for _, pr := range points {
		row, keys := pointRow(pr)
		rows = append(rows, row)
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
	}
	return rows, order
}

// writeArtifacts writes a study's artifacts. Data formats are written after
// every point; rendered ones (markdown, charts) only when final.
func writeArtifacts(p *Plan, s *StudyPlan, points []*PointResult, final bool) []error {
	var errs []error
	for _, a := range s.Artifacts {
		rendered := a.Format == "markdown" || a.Format == "chart"
		if rendered != final {
			continue
		}
		var rows []Row
		var order []string
		if a.From == "" || a.From == "points" {
			rows, order = studyRows(points)
		} else {
			rows, order = tableRows(points, a.From)
		}
		data, err := renderArtifact(p, s, a, rows, order, points)
		if err == nil {
			err = writeConfined(s.Dir, a.Path, data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("artifact %s/%s: %w", s.Name, a.Path, err))
		}
	}
	return errs
}

func renderArtifact(p *Plan, s *StudyPlan, a spec.Artifact, rows []Row, order []string, points []*PointResult) ([]byte, error) {
	switch a.Format {
	case "csv":
		cols := a.Columns
		if len(cols) == 0 {
			cols = order
		}
		return renderCSV(rows, cols)
	case "json":
		if rows == nil {
			rows = []Row{} // a list, also when no point produced a row
		}
		return json.MarshalIndent(rows, "", "  ")
	case "jsonl":
		var b bytes.Buffer
		for _, r := range rows {
			line, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		return b.Bytes(), nil
	case "markdown":
		return renderTemplate(p, s, a, rows, points)
	case "chart":
		return renderChart(a, rows)
	}
	return nil, fmt.Errorf("unknown format %q", a.Format)
}

func renderCSV(rows []Row, cols []string) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(cols)
	for _, r := range rows {
		rec := make([]string, len(cols))
		for i, c := range cols {
			rec[i] = cell(r[c])
		}
		w.Write(rec)
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// cell renders a value for CSV: integers without exponent, floats with up to
// 6 significant decimals, nil as empty.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return cell(float64(x))
	case bool:
		return strconv.FormatBool(x)
	case int, int64, int32, uint64, uint32, uint:
		return fmt.Sprint(x)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// writeConfined writes rel inside dir, refusing any path (or symlink) that
// leaves dir.
func writeConfined(dir, rel string, data []byte) error {
	if !spec.Confined(rel) {
		return fmt.Errorf("%q escapes the run directory", rel)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if sub := filepath.Dir(rel); sub != "." {
		if err := root.MkdirAll(sub, 0o755); err != nil {
			return err
		}
	}
	tmp := filepath.Join(filepath.Dir(rel), "."+filepath.Base(rel)+".tmp")
	if err := root.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return root.Rename(tmp, rel)
}

// TemplateData is what a markdown template sees.
type TemplateData struct {
	Experiment  string
	Description string
	Study       string
	RunDir      string
	Vars        map[string]any
	Rows        []Row            // one per point (or the artifact's from: table)
	Points      []Row            // one per point, always
	Tables      map[string][]Row // every table of the study
}

func renderTemplate(p *Plan, s *StudyPlan, a spec.Artifact, rows []Row, points []*PointResult) ([]byte, error) {
	path := filepath.Join(p.SpecDir, a.Template)
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := template.New(filepath.Base(path)).Funcs(TemplateFuncs()).Option("missingkey=zero").Parse(string(text))
	if err != nil {
		return nil, err
	}
	data := TemplateData{Experiment: p.Experiment, Description: p.Description, Study: s.Name, RunDir: p.RunDir,
		Vars: map[string]any{}, Rows: rows, Tables: map[string][]Row{}}
	for _, v := range p.Vars {
		data.Vars[v.Name] = v.Value
	}
	data.Points, _ = studyRows(points)
	names := map[string]bool{}
	for _, pr := range points {
		for k := range pr.Tables {
			names[k] = true
		}
	}
	for k := range names {
		data.Tables[k], _ = tableRows(points, k)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func trimFloat(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
