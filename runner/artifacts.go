package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"text/template"

	"github.com/runexp/runexp/internal/artifact"
	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// Row is one artifact row: a point (from: points) or a table row.
type Row = results.Row

// TemplateFuncs are the functions markdown templates can use (see
// artifact.TemplateFuncs); validation parses templates with them.
func TemplateFuncs() template.FuncMap { return artifact.TemplateFuncs() }

// resultPoints hands the study's points' results to the result model. A
// sweep with repeat: 1 runs each point as its one repetition: its rows say
// repeat 1, so that the column a spec lists for repeat: N is filled.
func resultPoints(s *StudyPlan, points []*PointResult) []results.Point {
	out := make([]results.Point, len(points))
	for i, pr := range points {
		rp := results.Point{ID: pr.ID, Values: pr.Values, Tables: pr.Tables, Status: string(pr.Status),
			Phase: pr.Phase, Error: pr.Error, Seconds: pr.Seconds}
		for _, v := range pr.Sweep {
			rp.Sweep = append(rp.Sweep, results.Field{Name: v.Name, Value: v.Value})
		}
		if s.Repeat == 1 {
			rp.Sweep = append(rp.Sweep, results.Field{Name: spec.RepeatAxis, Value: 1})
		}
		out[i] = rp
	}
	return out
}

// writeArtifacts writes a study's artifacts of one kind: data formats
// (csv, json, ...) or, when final, the ones built from them (markdown,
// charts). The run writes both when a study ends, also on interruption;
// finished points are in the journal and result.json files meanwhile.
func writeArtifacts(p *Plan, s *StudyPlan, points []*PointResult, final bool) []error {
	var errs []error
	rps := resultPoints(s, points)
	for _, a := range s.Artifacts {
		// An unknown format (validation rejects it) fails with the data formats.
		if f, _ := artifact.Lookup(string(a.Format)); f.Final != final {
			continue
		}
		data, err := encodeArtifact(p, s, a, rps)
		if err == nil {
			err = writeConfined(s.Dir, a.Path, data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("artifact %s/%s: %w", s.Name, a.Path, err))
		}
	}
	return errs
}

// encodeArtifact encodes one artifact of the study from its points.
func encodeArtifact(p *Plan, s *StudyPlan, a spec.Artifact, points []results.Point) ([]byte, error) {
	job := artifact.Job{Artifact: a, SpecDir: p.SpecDir, Axes: s.Axes, Repeated: s.Repeat > 1, Data: func() artifact.TemplateData {
		d := artifact.TemplateData{Experiment: p.Experiment, Description: p.Description, Study: s.Name, RunDir: p.RunDir,
			Vars: map[string]any{}, Tables: results.Tables(points)}
		for _, v := range p.Vars {
			d.Vars[v.Name] = v.Value
		}
		d.Points, _ = results.PointRows(points)
		return d
	}}
	if a.From == "" || a.From == "points" {
		job.Rows, job.Columns = results.PointRows(points)
	} else {
		job.Rows, job.Columns = results.TableRows(points, a.From)
	}
	return artifact.Encode(job)
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
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = writeAndClose(f, data)
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		root.Remove(tmp) // no hidden temp file outlives a failed write
	}
	return err
}
