package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/runexp/runexp/internal/artifact"
	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// studyOutputs is every name a study's artifacts may refer to: the point
// row's and each table's columns.
type studyOutputs struct {
	points results.Names
	tables map[string]*results.Names
	order  []string // table names in order of declaration
	axes   []string
	ok     bool // false: a step does not declare its outputs
}

// newStudyOutputs starts collecting what the study's steps declare; add
// takes one point at a time, so the points need not be kept.
func newStudyOutputs(sp *StudyPlan) *studyOutputs {
	out := &studyOutputs{tables: map[string]*results.Names{}, axes: sp.Axes, ok: true}
	out.points.Add(results.PointFields...)
	if sp.Repeat > 0 {
		// Declared with repeat: 1 too, so an artifact listing the column
		// stays valid whatever N a --set gives.
		out.axes = append(slices.Clone(sp.Axes), spec.RepeatAxis)
	}
	out.points.Add(out.axes...)
	return out
}

// add collects what pt's steps declare. A step that does not declare its
// outputs (a kind outside steps.Builtin) leaves nothing to check.
func (out *studyOutputs) add(pt *PointPlan) {
	lastLaunch := ""
	for _, st := range pt.Steps {
		p, ok := st.With.(steps.Producer)
		if !ok {
			out.ok = false
			return
		}
		o := p.Outputs(lastLaunch)
		if st.Type == "launch" {
			lastLaunch = st.ID
		}
		out.points.Add(o.Values...)
		for _, table := range results.SortedKeys(o.Tables) {
			names, seen := out.tables[table]
			if !seen {
				names = &results.Names{}
				names.Add("point")
				names.Add(out.axes...)
				out.tables[table] = names
				out.order = append(out.order, table)
			}
			names.Add(o.Tables[table]...)
		}
	}
}

// checkOutputs reports every artifact name (from:, columns, chart fields)
// that no step of the study records, at its key, with the closest name.
func checkOutputs(d *spec.Decoder, path string, sp *StudyPlan, outs *studyOutputs) spec.ErrorList {
	if !outs.ok {
		return nil
	}
	var errs spec.ErrorList
	for i, a := range sp.Artifacts {
		if a.Node == nil {
			continue // not a mapping: the decoder reported it
		}
		ap := fmt.Sprintf("%s.artifacts[%d]", path, i)
		at := func(field string) spec.Pos {
			if n := spec.FieldNode(a.Node, field); n != nil {
				return d.Pos(n)
			}
			return a.Pos
		}
		names := &outs.points
		missing := func(name string) string { return fmt.Sprintf("no step of the study records a value %q", name) }
		if a.From != "" && a.From != "points" {
			t, known := outs.tables[a.From]
			if !known {
				candidates := append([]string{"points"}, outs.order...)
				errs.Add(at("from"), ap+".from", "no step of the study records a table %q%s; tables: %s",
					a.From, spec.DidYouMean(a.From, candidates), strings.Join(candidates, ", "))
				continue
			}
			names = t
			missing = func(name string) string { return fmt.Sprintf("table %s has no column %q", a.From, name) }
		}
		if a.Aggregate == spec.AggregateRepeat && names == &outs.points && names.Has("n") && !slices.Contains(outs.axes, "n") {
			errs.Add(at("aggregate"), ap+".aggregate", "aggregate: repeat writes n (the number of ok repetitions), but a step of the study records a value \"n\" too: record it under another name")
		}
		check := func(field, name string) {
			if name == "" || names.Has(name) {
				return
			}
			if name == artifact.ModeN && a.Aggregate == spec.AggregateRepeat && names.Has("n") {
				return // the folded rows' own n (a repeated mode's)
			}
			if base, stat := artifact.IsStatName(name); stat && (base == "" || names.Has(base)) {
				if a.Aggregate == spec.AggregateRepeat {
					return // n, or a statistic of a recorded value
				}
				errs.Add(at(field), ap+"."+field, "%s: add aggregate: repeat to fold each point's repetitions into it", missing(name))
				return
			}
			errs.Add(at(field), ap+"."+field, "%s%s", missing(name), spec.DidYouMean(name, names.List()))
		}
		for j, c := range a.Columns {
			check(fmt.Sprintf("columns[%d]", j), c)
		}
		if c := a.Chart; c != nil {
			check("chart.x", c.X)
			for j, y := range c.Y {
				check(fmt.Sprintf("chart.y[%d]", j), y)
			}
			check("chart.value", c.Value)
			check("chart.group", c.Group)
			for j, name := range c.Series {
				check(fmt.Sprintf("chart.series[%d]", j), name)
			}
			for j, name := range c.Settings {
				check(fmt.Sprintf("chart.settings[%d]", j), name)
			}
		}
	}
	return errs
}

// declaredOutputs collects what the study's points declare; ok is false when
// a step does not declare its outputs.
func declaredOutputs(sp *StudyPlan) (out *studyOutputs, ok bool) {
	out = newStudyOutputs(sp)
	for _, pt := range sp.Points {
		out.add(pt)
	}
	if !out.ok {
		return nil, false
	}
	return out, true
}

// checkFoldedAxes reports a sweep axis whose name aggregate: repeat also
// writes (n, or <name>_mean, _ci95_low, _ci95_high), at the artifact that
// folds: the fold would overwrite the axis's values silently.
func checkFoldedAxes(d *spec.Decoder, path string, sp *StudyPlan, sweep *spec.Sweep) spec.ErrorList {
	if sweep == nil {
		return nil
	}
	var errs spec.ErrorList
	for i, a := range sp.Artifacts {
		if a.Aggregate != spec.AggregateRepeat || a.Node == nil {
			continue
		}
		pos := a.Pos
		if n := spec.FieldNode(a.Node, "aggregate"); n != nil {
			pos = d.Pos(n)
		}
		for _, ax := range sweep.Axes {
			if _, stat := artifact.IsStatName(ax.Name); ax.Name == spec.RepeatAxis || !stat {
				continue
			}
			errs.Add(pos, fmt.Sprintf("%s.artifacts[%d].aggregate", path, i),
				"sweep axis %q (%s) has a name aggregate: repeat gives its statistics (n, <value>_mean, <value>_ci95_low, <value>_ci95_high): rename the axis", ax.Name, ax.Pos)
		}
	}
	return errs
}
