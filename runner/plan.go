// Package runner turns a parsed spec into a Plan and executes it.
//
// Contract: Compile is pure (no processes, no files written): it resolves
// vars and --set overrides, expands each study's sweep, substitutes ${...}
// per point, decodes every step's `with:` strictly through its kind, and
// returns every problem at once as a spec.ErrorList. A sweep is counted
// before it is expanded, and one above the spec's max_points is refused at
// its position; with Options.CountOnly (validate, plan) the points are
// checked without being kept, and the plan prints them by compiling them
// again one at a time. A sweep's repeat: N makes every point N points, the
// innermost axis repeat (1..N). Parallel points' slots without listed GPUs
// get the host's, detected through the GPU backend the steps read once the
// steps are compiled (the sim backend's are simulated), and the studies are
// compiled again with them. Environment values are shown as ${env.NAME} in what
// is printed or written about the plan (never in what the steps receive).
// `runexp plan` prints the Plan; Execute runs exactly that value: steps in order per point, a cleanup
// stack after every point, artifacts written atomically inside the run
// directory when each study ends, and a journal appended after every point
// so that no finished result is lost (ReadManifest reads it). With an
// Executor (executor.go) a study's points run elsewhere instead, each as
// RunOnePoint in its own process, and the run records what they wrote.
package runner

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// Plan is everything a run will do, after substitution.
type Plan struct {
	Experiment  string           `json:"experiment"`
	Description string           `json:"description,omitempty"`
	File        string           `json:"file"`
	SpecSHA256  string           `json:"spec_sha256"`
	RunDir      string           `json:"run_dir"`
	OnError     spec.ErrorPolicy `json:"on_error"`
	Overrides   []spec.Override  `json:"overrides,omitempty"`
	Only        []spec.Override  `json:"only,omitempty"`
	Vars        []NamedValue     `json:"vars"`
	Studies     []*StudyPlan     `json:"studies"`
	SpecDir     string           `json:"-"`
	Source      []byte           `json:"-"`

	// secrets are the environment values substitution read; the plan and
	// manifest show them as ${env.NAME} (see redact.go).
	secrets *redactor

	// Parallel points run at once, each on its own slot (slots.go).
	Parallel int        `json:"parallel"`
	Slots    []SlotPlan `json:"slots"`

	// Executor is where the points run (empty: here); Slurm configures
	// the slurm executor (executor.go).
	Executor spec.ExecutorKind `json:"executor,omitempty"`
	Slurm    *spec.Slurm       `json:"slurm,omitempty"`
	// gpuBackends are the GPU backends the steps read (not host, none),
	// sorted: slots without listed GPUs get theirs from the first.
	gpuBackends []string

	// declared are the spec's vars as written (select cases included), so
	// preflight can say what to change in terms of them.
	declared spec.Vars
}

// NamedValue is a name with a decoded YAML value.
type NamedValue struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// StudyPlan is one study's points and artifacts.
type StudyPlan struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Dir         string   `json:"dir"`
	Axes        []string `json:"axes,omitempty"`
	// Repeat is the sweep's repeat: N (0 when not given). Above 1, every
	// point of Axes runs N times, as points with a repeat value 1..N.
	Repeat    int             `json:"repeat,omitempty"`
	Points    []*PointPlan    `json:"points"`
	Artifacts []spec.Artifact `json:"artifacts,omitempty"`
	Submit    []string        `json:"submit,omitempty"` // a cluster executor's command for the study, less its job script (planSubmissions)
	// PointCount is the number of points, also when Options.CountOnly left
	// Points empty.
	PointCount int `json:"-"`

	// compile, when Options.CountOnly left Points empty, compiles the
	// points again one at a time, for a plan printed without holding them.
	compile func(yield func(*PointPlan) bool)
}

// EachPoint calls yield with the study's points in order, compiling them
// one at a time (and dropping each after yield) when the plan was compiled
// with Options.CountOnly.
func (s *StudyPlan) EachPoint(yield func(*PointPlan) bool) {
	if len(s.Points) == 0 && s.compile != nil {
		s.compile(yield)
		return
	}
	for _, pt := range s.Points {
		if !yield(pt) {
			return
		}
	}
}

// count is the number of points, for plans built with or without CountOnly
// (and by hand).
func (s *StudyPlan) count() int {
	if len(s.Points) == 0 && s.compile != nil {
		return s.PointCount
	}
	return len(s.Points)
}

// PointPlan is one sweep point's steps.
type PointPlan struct {
	ID     string       `json:"id"`
	Slug   string       `json:"slug"`
	Label  string       `json:"label,omitempty"`
	Dir    string       `json:"dir"`
	Values []NamedValue `json:"values,omitempty"`
	Steps  []*StepPlan  `json:"steps"`
	Point  spec.Point   `json:"-"`

	// Identity hashes what the point runs, not where it sits (identity.go):
	// a resume keeps a finished point only when its identity is unchanged.
	Identity string `json:"identity"`
	Slot     int    `json:"slot"` // index into Plan.Slots
}

// StepPlan is one step at one point, with its decoded configuration.
type StepPlan struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"`
	Needs   []string      `json:"needs,omitempty"`
	Always  bool          `json:"always,omitempty"`
	Timeout spec.Duration `json:"timeout"`
	With    steps.Step    `json:"with"`
	Pos     spec.Pos      `json:"-"`

	redact *redactor // the plan's: environment values shown as ${env.NAME}
}

// MarshalJSON encodes the step with environment values (tokens passed as
// ${env.NAME}) shown as the reference, not the value.
func (s *StepPlan) MarshalJSON() ([]byte, error) {
	type plain StepPlan // without this method
	data, err := json.Marshal((*plain)(s))
	if err != nil {
		return nil, err
	}
	return s.redact.JSON(data), nil
}

// Options configure Compile.
type Options struct {
	// Overrides are --set NAME=VALUE: a var's value, or a sweep axis'
	// values (NAME=[v1, v2]) in every study that has that axis.
	Overrides []spec.Override
	// Only are --only AXIS=VALUE: the studies with that axis run only the
	// points where it has one of the values given for it; a study with
	// none of the axes is left out.
	Only   []spec.Override
	OutDir string                      // parent of run directories (default "runs")
	Now    time.Time                   // names the run directory
	Env    func(string) (string, bool) // environment for ${env.NAME} (default os.LookupEnv)
	// CountOnly checks every point without keeping it (validate): the
	// studies' Points stay empty and PointCount counts them, and points
	// whose steps substitute to the same values are checked once, so
	// memory does not grow with the sweep.
	CountOnly bool

	// RunDir, when set, is the run folder to plan for (a resume) instead
	// of a new one under OutDir.
	RunDir string
	// Parallel, when not 0, overrides the spec's parallel: (--parallel).
	Parallel int
	// Executor, when set, overrides the spec's executor: (--executor).
	Executor spec.ExecutorKind
	// HostGPUs lists the host's GPU indices as the named GPU backend
	// (nvml, nvidia-smi, auto) sees them, for slots that list none (the
	// sim backend's simulated GPUs need no asking). Nil (validate): the
	// GPUs of points run at once without slots are not checked.
	HostGPUs func(backend string) ([]int, error)
}

// UsageError is a problem with the command line (a bad --set), not the file.
type UsageError struct{ Err error }

func (u *UsageError) Error() string { return u.Err.Error() }
func (u *UsageError) Unwrap() error { return u.Err }

// RunDirFor returns runs/<name>/<UTC timestamp>, with a -2, -3, ... suffix
// when a run of the same second already has that folder. (Execute creates
// the folder exclusively, so a race between two processes fails rather than
// mixing two runs.) A path that cannot be a folder (a file on the way, a
// folder runexp may not enter) is an error, not a reason to try the next
// name.
func RunDirFor(outDir, name string, now time.Time) (string, error) {
	if outDir == "" {
		outDir = "runs"
	}
	base := filepath.Join(outDir, name, now.UTC().Format("20060102T150405Z"))
	dir := base
	for i := 2; ; i++ {
		_, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if err := usableParent(filepath.Dir(dir)); err != nil {
				return "", err
			}
			return dir, nil
		}
		if err != nil {
			return "", fmt.Errorf("output folder %s: %w", outDir, err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// usableParent reports why dir's nearest existing ancestor cannot hold a
// new folder: it is not a folder, or it cannot be entered.
func usableParent(dir string) error {
	for {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("output folder %s: not a folder", dir)
		case err == nil:
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("output folder %s: %w", dir, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// Compile builds the plan for x. Errors are a spec.ErrorList (exit 2) or a
// *UsageError.
func Compile(x *spec.Experiment, reg *steps.Registry, opt Options) (*Plan, error) {
	if opt.Env == nil {
		opt.Env = os.LookupEnv
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	var errs spec.ErrorList
	varSets, axisSets, err := splitOverrides(x, opt)
	if err != nil {
		return nil, &UsageError{err}
	}
	vals, err := x.Vars.Resolve(varSets)
	if err != nil {
		var list spec.ErrorList
		if !errors.As(err, &list) {
			return nil, &UsageError{err}
		}
		errs = list // reported with the studies' problems
	}
	runDir, err := opt.RunDir, error(nil)
	if runDir == "" {
		runDir, err = RunDirFor(opt.OutDir, x.Name, opt.Now)
	}
	if err != nil {
		return nil, &UsageError{err}
	}
	p := &Plan{
		Experiment: x.Name, Description: x.Description, File: x.File, SpecSHA256: x.SHA256(),
		RunDir: runDir, OnError: x.OnError, Overrides: opt.Overrides, Only: opt.Only,
		SpecDir: filepath.Dir(x.File), Source: x.Source, declared: x.Vars,
		Executor: cmp.Or(opt.Executor, x.Executor), Slurm: x.Slurm,
	}
	if p.OnError == "" {
		p.OnError = spec.ErrorContinue
	}
	d := &spec.Decoder{File: x.File}
	slots, detectPer, slotErrs := planSlots(x, d, opt)
	errs = append(errs, slotErrs...)
	p.Slots, p.Parallel = slots, len(slots)
	base := spec.NewScope(opt.Env)
	for _, v := range x.Vars {
		if n, ok := vals[v.Name]; ok {
			base.Set(v.Name, n)
			p.Vars = append(p.Vars, NamedValue{v.Name, nodeValue(n)})
		}
	}
	base.SetString("run.dir", p.RunDir)
	if abs, err := filepath.Abs(p.SpecDir); err == nil {
		base.SetString("spec.dir", abs)
	}
	slurm, slurmErrs := x.Slurm.Resolve(d, base) // `partition: ${partition}`
	p.Slurm, errs = slurm, append(errs, slurmErrs...)
	compileStudies := func() (errs spec.ErrorList) {
		p.Studies, p.gpuBackends = nil, nil
		for i := range x.Studies {
			sp, e := compileStudy(d, reg, x, i, base, p, opt.CountOnly, axisSets, opt.Only)
			errs = append(errs, e...)
			if sp == skipped {
				continue
			}
			if sp != nil {
				p.Studies = append(p.Studies, sp)
			}
		}
		return errs
	}
	studyErrs := compileStudies()
	if detectPer > 0 && len(errs)+len(studyErrs) == 0 {
		// The GPUs are the backend's the steps read, so they are known once
		// the steps are; compiled again so that ${slot.gpus} holds them.
		slotErrs := detectGPUSlots(p.Slots, detectPer, !declaresGPUs(x), p.Executor == spec.ExecutorSlurm, p.gpuBackends, opt, slotKeyPos(x, d, opt.Parallel))
		errs = append(errs, slotErrs...)
		if len(slotErrs) == 0 && len(p.Slots[0].GPUs) > 0 {
			studyErrs = compileStudies()
		}
	}
	errs = append(errs, studyErrs...)
	p.secrets = newRedactor(base.EnvValues())
	for _, sp := range p.Studies {
		for _, pt := range sp.Points {
			for _, st := range pt.Steps {
				st.redact = p.secrets
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	// A point's identity is what it runs, not where: hashed before its
	// slot pins it to GPUs, so another --parallel keeps finished points.
	p.setIdentities()
	p.applySlots()
	p.planSubmissions()
	return p, nil
}

// skipped is compileStudy's answer for a study --only leaves out.
var skipped = &StudyPlan{}

func compileStudy(d *spec.Decoder, reg *steps.Registry, x *spec.Experiment, i int, base *spec.Scope, p *Plan, countOnly bool,
	axisSets map[string][]*yaml.Node, only []spec.Override) (*StudyPlan, spec.ErrorList) {
	rs := x.Studies[i]
	path := fmt.Sprintf("studies[%d]", i)
	sp := &StudyPlan{Name: rs.Name, Description: rs.Description, Dir: filepath.Join(p.RunDir, rs.Name)}
	scope := base.Clone()
	scope.SetString("study.name", rs.Name)
	scope.SetString("study.dir", sp.Dir)

	var errs spec.ErrorList
	var sweep *spec.Sweep
	if rs.Sweep != nil && !spec.IsNull(rs.Sweep) {
		n, e := d.Substitute(rs.Sweep, path+".sweep", scope)
		errs = append(errs, e...)
		sweep = &spec.Sweep{}
		errs = append(errs, d.Decode(n, path+".sweep", sweep)...)
		errs = append(errs, spec.CheckAxes(sweep, path, x.Vars)...)
		for name, values := range axisSets {
			if sweep.HasAxis(name) {
				if err := sweep.ReplaceAxis(name, values); err != nil {
					errs.Add(d.Pos(rs.Sweep), path+".sweep.axes."+name, "%v", err)
				}
			}
		}
		for _, a := range sweep.Axes {
			if sweep.Repeat > 1 && a.Name == spec.RepeatAxis {
				continue // the repetitions are no axis of the results: they are aggregated over
			}
			sp.Axes = append(sp.Axes, a.Name)
		}
		sp.Repeat = sweep.Repeat
		if _, isVar := x.Vars.Lookup(spec.RepeatAxis); isVar && sweep.Repeat == 1 { // above 1, CheckAxes says so
			errs.Add(d.Pos(spec.ValueNode(rs.Sweep, "repeat")), path+".sweep.repeat", "a var is called repeat too; ${repeat} would be ambiguous")
		}
	}
	if rs.Artifacts != nil {
		n, e := d.Substitute(rs.Artifacts, path+".artifacts", scope)
		errs = append(errs, e...)
		errs = append(errs, d.Decode(n, path+".artifacts", &sp.Artifacts)...)
		errs = append(errs, spec.CheckArtifacts(d, path+".artifacts", sp.Artifacts)...)
		for j, a := range sp.Artifacts {
			if a.Template == "" {
				continue
			}
			tpos, tpath := d.Pos(spec.ValueNode(a.Node, "template")), fmt.Sprintf("%s.artifacts[%d].template", path, j)
			text, err := readTemplate(p.SpecDir, a.Template)
			if err != nil {
				errs.Add(tpos, tpath, "%v", err)
				continue
			}
			// Parse now, so a broken template fails validation rather than the end of a long run.
			if _, err := template.New(a.Template).Funcs(TemplateFuncs()).Parse(string(text)); err != nil {
				errs.Add(tpos, tpath, "%v", err)
			}
		}
	}
	errs = append(errs, checkFoldedAxes(d, path, sp, sweep)...)
	if len(errs) > 0 && sweep == nil && rs.Sweep != nil {
		return nil, errs
	}
	if len(only) > 0 {
		if !slices.ContainsFunc(only, func(o spec.Override) bool { return sweep.HasAxis(o.Name) }) {
			return skipped, errs
		}
		for _, o := range only {
			if sweep.HasAxis(o.Name) {
				if err := sweep.Keep(o.Name, o.Value); err != nil {
					errs.Add(d.Pos(rs.Sweep), path+".sweep.axes."+o.Name, "%v", err)
				}
			}
		}
	}
	// Count before expanding: a sweep too large to hold is refused at the
	// sweep, never expanded until memory runs out.
	count, fits := sweep.Count()
	if limit := x.PointCap(); !fits || count > limit {
		what := "more points than fit in an int"
		if fits {
			what = fmt.Sprintf("%d points", count)
		}
		errs.Add(d.Pos(rs.Sweep), path+".sweep", "the sweep has %s, more than max_points (%d): narrow or exclude axes, split the study, or raise max_points at the top of the spec", what, limit)
		return sp, errs
	}
	if count == 0 {
		errs.Add(d.Pos(rs.Sweep), path+".sweep", "every point is excluded; the sweep is empty")
	}
	sp.PointCount = count
	if countOnly {
		sp.compile = func(yield func(*PointPlan) bool) {
			k := -1
			sweep.Each(func(pt spec.Point) bool {
				k++
				pp, ps := pointScope(p.slotScope(scope, k), sp, pt)
				compileSteps(d, reg, rs, path, ps, pp) // checked by Compile
				for _, st := range pp.Steps {
					st.redact = p.secrets
				}
				p.slotPoint(pp, k)
				pp.Identity = pointIdentity(p, sp, pp)
				return yield(pp)
			})
		}
	}
	outs := newStudyOutputs(sp)
	// CountOnly: the step lists already checked, by the values of the names
	// they refer to that vary per point (the rest is the same at every
	// point). Bounded, so that a sweep whose every point differs
	// (${point.dir}) does not grow it without end; past the bound, new
	// points are simply checked.
	checked := map[[sha256.Size]byte]bool{}
	const maxChecked = 1 << 16
	varying := varyingRefs(rs.Steps, append(slices.Clone(sp.Axes), spec.RepeatAxis))
	stepErrs := 0
	k := -1
	sweep.Each(func(pt spec.Point) bool {
		k++
		if countOnly && p.Parallel <= 1 {
			key := pointKey(pt, varying, sp)
			if checked[key] {
				return true
			}
			if len(checked) < maxChecked {
				checked[key] = true
			}
		}
		pp, ps := pointScope(p.slotScope(scope, k), sp, pt)
		e := compileSteps(d, reg, rs, path, ps, pp)
		errs = append(errs, e...)
		stepErrs += len(e)
		outs.add(pp)
		p.noteGPUBackends(pp)
		if !countOnly {
			sp.Points = append(sp.Points, pp)
		}
		return true
	})
	if stepErrs == 0 { // a broken step declares less than it would record: no cascade
		errs = append(errs, checkOutputs(d, path, sp, outs)...)
	}
	return sp, errs
}

// splitOverrides separates --set of vars from --set of sweep axes (parsed
// as YAML: a list, or one value), and checks that each --only names an axis.
// A name that is neither is left to Vars.Resolve, which reports it.
func splitOverrides(x *spec.Experiment, opt Options) (vars []spec.Override, axes map[string][]*yaml.Node, err error) {
	var axisNames []string
	for _, rs := range x.Studies {
		if a := spec.ValueNode(rs.Sweep, "axes"); a != nil && a.Kind == yaml.MappingNode {
			for j := 0; j < len(a.Content); j += 2 {
				if !slices.Contains(axisNames, a.Content[j].Value) {
					axisNames = append(axisNames, a.Content[j].Value)
				}
			}
		}
	}
	var problems []string
	axes = map[string][]*yaml.Node{}
	for _, o := range opt.Overrides {
		if _, isVar := x.Vars.Lookup(o.Name); isVar || !slices.Contains(axisNames, o.Name) {
			vars = append(vars, o)
			continue
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(o.Value), &n); err != nil || len(n.Content) != 1 {
			problems = append(problems, fmt.Sprintf("--set %s=%s: write the axis' values as a YAML list such as [a, b]", o.Name, o.Value))
			continue
		}
		v := n.Content[0]
		switch v.Kind {
		case yaml.SequenceNode:
			axes[o.Name] = v.Content
		case yaml.ScalarNode:
			axes[o.Name] = []*yaml.Node{v}
		default:
			problems = append(problems, fmt.Sprintf("--set %s=%s: write the axis' values as a YAML list such as [a, b]", o.Name, o.Value))
		}
	}
	for _, o := range opt.Only {
		if !slices.Contains(axisNames, o.Name) {
			problems = append(problems, fmt.Sprintf("--only %s: no sweep axis %s%s (axes: %s)", o.Name, o.Name, spec.DidYouMean(o.Name, axisNames), strings.Join(axisNames, ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, nil, errors.New(strings.Join(problems, "\n"))
	}
	return vars, axes, nil
}

// varyingRefs lists the names n refers to whose values differ between the
// points of a study: its axes and point.*.
func varyingRefs(n *yaml.Node, axes []string) []string {
	var out []string
	for _, ref := range spec.References(n) {
		if slices.Contains(axes, ref) || strings.HasPrefix(ref, "point.") {
			out = append(out, ref)
		}
	}
	return out
}

// pointKey digests the values of refs at pt: two points with the same key
// substitute the study's steps to equal nodes.
func pointKey(pt spec.Point, refs []string, sp *StudyPlan) [sha256.Size]byte {
	h := sha256.New()
	for _, ref := range refs {
		switch ref {
		case "point.id":
			io.WriteString(h, pt.ID())
		case "point.slug", "point.dir":
			io.WriteString(h, pt.Slug()) // the dir is the study's dir and the slug
		default:
			for _, v := range pt.Values {
				if v.Name == ref {
					fmt.Fprintf(h, "%s|%q", v.Value.ShortTag(), v.Value.Value)
				}
			}
		}
		h.Write([]byte{0})
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// pointScope returns the point's plan (without steps) and the scope its
// steps are substituted in.
func pointScope(scope *spec.Scope, sp *StudyPlan, pt spec.Point) (*PointPlan, *spec.Scope) {
	pp := &PointPlan{ID: pt.ID(), Slug: pt.Slug(), Label: pt.Label(), Dir: filepath.Join(sp.Dir, pt.Slug()), Point: pt}
	ps := scope.Clone()
	for _, v := range pt.Values {
		ps.Set(v.Name, v.Value)
		pp.Values = append(pp.Values, NamedValue{v.Name, nodeValue(v.Value)})
	}
	if sp.Repeat > 0 && len(pt.Values) == len(sp.Axes) {
		// repeat: 1 runs each point once, as its first repetition: ${repeat}
		// and the artifacts' repeat column are 1 (its folder, label and
		// sweep values do not say so: it is the point of an unrepeated sweep).
		ps.Set(spec.RepeatAxis, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"})
	}
	ps.SetString("point.id", pp.ID)
	ps.SetString("point.slug", pp.Slug)
	ps.SetString("point.dir", pp.Dir)
	return pp, ps
}

// compileSteps substitutes and decodes the study's steps at one point into pp.
func compileSteps(d *spec.Decoder, reg *steps.Registry, rs spec.RawStudy, path string, ps *spec.Scope, pp *PointPlan) spec.ErrorList {
	var errs spec.ErrorList
	n, subErrs := d.Substitute(rs.Steps, path+".steps", ps)
	errs = append(errs, subErrs...)
	var list []spec.Step
	errs = append(errs, withoutCascade(d.Decode(n, path+".steps", &list), subErrs)...)
	errs = append(errs, spec.CheckSteps(d, path+".steps", list)...)
	launches := map[string]steps.Launcher{}
	lastLaunch := ""
	for j := range list {
		st := &list[j]
		stp := fmt.Sprintf("%s.steps[%d]", path, j)
		kind, ok := reg.Lookup(st.Type)
		if !ok {
			if st.Type != "" {
				errs.Add(d.Pos(spec.ValueNode(st.Node, "type")), stp+".type", "unknown step type %q%s (known: %s)",
					st.Type, spec.DidYouMean(st.Type, reg.Names()), strings.Join(reg.Names(), ", "))
			}
			continue
		}
		cfg := kind.New()
		if s, ok := cfg.(steps.IDSetter); ok {
			s.SetID(st.ID)
		}
		withPath := stp + ".with"
		decodeErrs := withoutCascade(d.Decode(st.With, withPath, cfg), subErrs)
		errs = append(errs, decodeErrs...)
		if !failedAt(subErrs, withPath) {
			// Validate runs even when decoding found problems, so one run
			// reports every mistake of the block; what it says about a key
			// the decoder already rejected is dropped.
			var found spec.ErrorList
			found.MergeFields(st.Pos, withPath, cfg.Validate(), func(field string) spec.Pos {
				if spec.IsNull(st.With) {
					return st.Pos
				}
				return d.Pos(spec.FieldNode(st.With, field))
			})
			errs = append(errs, notAt(found, decodeErrs)...)
		}
		if u, ok := cfg.(steps.ServerUser); ok {
			errs = append(errs, checkServerUse(d, u, st, stp, launches, lastLaunch, func() []string { return studyLaunches(list, reg) })...)
		}
		if l, ok := cfg.(steps.Launcher); ok {
			launches[st.ID] = l
			lastLaunch = st.ID
		} else if t, ok := cfg.(steps.Targeter); ok {
			t.SetTarget(launches, lastLaunch)
		}
		timeout := st.Timeout
		if timeout == 0 {
			timeout = spec.Duration(kind.Timeout)
		}
		pp.Steps = append(pp.Steps, &StepPlan{ID: st.ID, Type: st.Type, Needs: st.Needs, Always: st.Always,
			Timeout: timeout, With: cfg, Pos: st.Pos})
	}
	return errs
}

// checkServerUse reports a step that names a launch step which does not come
// before it at the point, or that needs a launched server when none does:
// at run time both would fail only when the step is reached.
// all lists the study's launch ids; it is called only to word an error, so
// a valid spec (every point of a large sweep) pays nothing for it.
func checkServerUse(d *spec.Decoder, u steps.ServerUser, st *spec.Step, stp string, launches map[string]steps.Launcher, last string, all func() []string) spec.ErrorList {
	var errs spec.ErrorList
	id, needs := u.UsesServer()
	switch {
	case id != "":
		if _, ok := launches[id]; !ok {
			before := "none"
			if len(launches) > 0 {
				before = strings.Join(slices.Sorted(maps.Keys(launches)), ", ")
			}
			at := d.Pos(spec.FieldNode(st.With, "server"))
			ids := all()
			if slices.Contains(ids, id) {
				errs.Add(at, stp+".with.server", "launch step %q comes after this step; a step can reach only a server launched before it (launch steps before it: %s)", id, before)
			} else {
				errs.Add(at, stp+".with.server", "no launch step %q in this study%s (launch steps before this step: %s)", id, spec.DidYouMean(id, ids), before)
			}
		}
	case needs != "" && last == "":
		errs.Add(st.Pos, stp, "%s needs a launched server, but no launch step comes before this step", needs)
	}
	return errs
}

// studyLaunches lists the ids of the study's launch steps, for did-you-mean.
func studyLaunches(list []spec.Step, reg *steps.Registry) []string {
	var ids []string
	for _, st := range list {
		if kind, ok := reg.Lookup(st.Type); ok {
			if _, ok := kind.New().(steps.Launcher); ok {
				ids = append(ids, st.ID)
			}
		}
	}
	return ids
}

// withoutCascade drops decode errors at nodes whose substitution already
// failed: one mistake, one message.
func withoutCascade(errs, subErrs spec.ErrorList) spec.ErrorList {
	if len(subErrs) == 0 {
		return errs
	}
	bad := map[spec.Pos]bool{}
	for _, e := range subErrs {
		bad[e.Pos] = true
	}
	var out spec.ErrorList
	for _, e := range errs {
		if !bad[e.Pos] {
			out = append(out, e)
		}
	}
	return out
}

// failedAt reports whether substitution failed inside a step's with block
// (path prefix), in which case Validate would only repeat the problem.
func failedAt(subErrs spec.ErrorList, withPath string) bool {
	for _, e := range subErrs {
		if within(e.Path, withPath) {
			return true
		}
	}
	return false
}

// notAt drops the problems at or under a path where the decoder already
// reported one: one mistake, one message.
func notAt(found, decodeErrs spec.ErrorList) spec.ErrorList {
	var out spec.ErrorList
next:
	for _, e := range found {
		for _, bad := range decodeErrs {
			if within(e.Path, bad.Path) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// within reports whether path is base or a key or index under it.
func within(path, base string) bool {
	return path == base || strings.HasPrefix(path, base+".") || strings.HasPrefix(path, base+"[")
}

// nodeValue decodes a scalar or list node into a plain Go value.
func nodeValue(n *yaml.Node) any {
	var v any
	if n == nil || n.Decode(&v) != nil {
		return nil
	}
	return v
}

// Load parses and compiles a spec file, reporting the problems of both stages
// together: a structural problem in one study does not hide a bad step in
// another.
func Load(path string, reg *steps.Registry, opt Options) (*Plan, error) {
	x, err := spec.Load(path)
	var parseErrs spec.ErrorList
	if err != nil {
		var list spec.ErrorList
		if !errors.As(err, &list) || x == nil || x.Root == nil {
			return nil, err
		}
		parseErrs = list
		if hasSyntaxError(list) {
			return nil, err
		}
	}
	p, err := Compile(x, reg, opt)
	if len(parseErrs) == 0 {
		return p, err
	}
	if err != nil {
		var list spec.ErrorList
		if !errors.As(err, &list) {
			return nil, err // a usage error; the spec problems follow once it is fixed
		}
		parseErrs = append(parseErrs, list...)
	}
	return nil, parseErrs.Err()
}

func hasSyntaxError(list spec.ErrorList) bool {
	for _, e := range list {
		if strings.HasPrefix(e.Msg, "YAML") || e.Msg == "empty spec" {
			return true
		}
	}
	return false
}
