package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Version is the only spec version this runexp reads.
const Version = "runexp/v1"

// Experiment is one spec file, decoded. Studies run in order; each has its own
// sweep, steps and artifacts.
type Experiment struct {
	Version     string      `yaml:"version" doc:"spec format version; must be runexp/v1"`
	Name        string      `yaml:"name" doc:"experiment name: lower-case letters, digits, - and _; names the run directory"`
	Description string      `yaml:"description" doc:"free text"`
	Vars        Vars        `yaml:"vars" doc:"typed variables, overridable with --set NAME=VALUE"`
	OnError     ErrorPolicy `yaml:"on_error" doc:"what a failed point does to the run: continue (default) or abort"`
	MaxPoints   int         `yaml:"max_points" doc:"the most points one study's sweep may have (default 100000); validate, plan and run refuse a larger sweep before expanding it"`
	Parallel    int         `yaml:"parallel" doc:"points run at once, each on its own slot (default 1; --parallel overrides)"`
	Slots       *Slots      `yaml:"slots" doc:"the GPUs parallel points share out: each point gets its slot's GPUs as ${slot.gpus}"`
	Studies     []RawStudy  `yaml:"studies" doc:"studies run in order"`

	// Where the points run (executor.go).
	Executor ExecutorKind `yaml:"executor" doc:"where points run: local (default) or slurm (--executor overrides)"`
	Slurm    *Slurm       `yaml:"slurm" doc:"how the slurm executor submits each study's array job"`

	File   string     `yaml:"-"`
	Source []byte     `yaml:"-"`
	Root   *yaml.Node `yaml:"-"`
	Pos    Pos        `yaml:"-"`
}

// RawStudy is a study as parsed: its sweep, steps and artifacts stay YAML
// nodes until planning, because ${...} in them is substituted per point (or
// per study) before they are decoded strictly into Sweep, Step and Artifact.
type RawStudy struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Sweep       *yaml.Node `yaml:"sweep"`
	Steps       *yaml.Node `yaml:"steps"`
	Artifacts   *yaml.Node `yaml:"artifacts"`

	Pos  Pos        `yaml:"-"`
	Node *yaml.Node `yaml:"-"`
}

// Study is the typed view of a study: the schema is generated from it, and
// planning decodes a RawStudy's parts into these types.
type Study struct {
	Name        string     `yaml:"name" doc:"study name; names its folder in the run directory"`
	Description string     `yaml:"description" doc:"free text"`
	Sweep       *Sweep     `yaml:"sweep" doc:"axes whose cartesian product gives the points; omitted means one point"`
	Steps       []Step     `yaml:"steps" doc:"steps run in order at every point"`
	Artifacts   []Artifact `yaml:"artifacts" doc:"files written from the study's results"`

	Pos  Pos        `yaml:"-"`
	Node *yaml.Node `yaml:"-"`
}

// Step is one entry of `steps:`. With is decoded later, strictly, by the
// step's kind, after ${...} substitution for each point.
type Step struct {
	ID      string     `yaml:"id" doc:"unique step id within the study (defaults to the type when used once)"`
	Type    string     `yaml:"type" doc:"step kind; see runexp steps"`
	Needs   []string   `yaml:"needs" doc:"ids of earlier steps that must succeed first"`
	Always  bool       `yaml:"always" doc:"run even if a needed step failed or the run is interrupted"`
	Timeout Duration   `yaml:"timeout" doc:"step timeout (each kind has a default)"`
	With    *yaml.Node `yaml:"with" doc:"the kind's configuration"`

	Pos  Pos        `yaml:"-"`
	Node *yaml.Node `yaml:"-"`
}

// Artifact is one file the study writes into its run directory.
type Artifact struct {
	Path     string         `yaml:"path" json:"path,omitempty" doc:"file path relative to the study's folder in the run directory"`
	Format   ArtifactFormat `yaml:"format" json:"format,omitempty" doc:"what to write: csv, json, jsonl, markdown (from a template) or chart"`
	From     string         `yaml:"from" json:"from,omitempty" doc:"what to write: points (one row per point, default) or a table that steps append to, e.g. load.summary"`
	Columns  []string       `yaml:"columns" json:"columns,omitempty" doc:"csv: columns in order (default: every key, in order of first appearance)"`
	Template string         `yaml:"template" json:"template,omitempty" doc:"markdown: text/template file, relative to the spec file"`
	Chart    *Chart         `yaml:"chart" json:"chart,omitempty" doc:"chart: what to plot"`
	// Aggregate is a key of its own rather than a format, so that any data
	// format (and a template's .Rows) can hold one row per point.
	Aggregate Aggregation `yaml:"aggregate" json:"aggregate,omitempty" doc:"repeat: one row per point of a sweep with repeat: N (and per row of its table), its repetitions folded into n and, for each number, its mean (also under the plain name), <name>_mean, <name>_ci95_low and <name>_ci95_high (95 % Student-t interval)"`

	Pos  Pos        `yaml:"-" json:"-"`
	Node *yaml.Node `yaml:"-" json:"-"`
}

// Chart describes a chart artifact: line series over X, a box plot of a
// per-request column grouped by a key, or a Pareto chart of Y against X.
// Kind left empty means box when Value is given, else line (EffectiveKind).
type Chart struct {
	Kind   ChartKind `yaml:"kind" json:"kind,omitempty" doc:"line (default: each y against x), box (the default with value: value per group) or pareto (y against x, one marker per row, the frontier numbered and its settings in the legend)"`
	Title  string    `yaml:"title" json:"title,omitempty" doc:"chart title"`
	X      string    `yaml:"x" json:"x,omitempty" doc:"column for the x axis (line charts)"`
	Y      []string  `yaml:"y" json:"y,omitempty" doc:"columns plotted against x, each its own line and its own axis scale"`
	Value  string    `yaml:"value" json:"value,omitempty" doc:"box plot: the column whose distribution is drawn"`
	Group  string    `yaml:"group" json:"group,omitempty" doc:"box plot: the column that splits rows into boxes"`
	XLabel string    `yaml:"x_label" json:"x_label,omitempty" doc:"x axis label"`
	YLabel string    `yaml:"y_label" json:"y_label,omitempty" doc:"y axis label"`
	// Series is nil when not given (every sweep axis but x) and empty
	// when given as [] (one line).
	Series []string          `yaml:"series" json:"series,omitempty" doc:"line charts: columns whose values split the rows into lines, one per value, with a legend (default: every sweep axis other than x that varies; [] for one line)"`
	Labels map[string]string `yaml:"labels" json:"labels,omitempty" doc:"axis labels by column name, overriding the built-in ones (gpu_mem_used_mb: GPU memory used (MiB))"`
	// Settings is a list rather than part of Labels, which already maps
	// columns to axis labels.
	Settings []string `yaml:"settings" json:"settings,omitempty" doc:"pareto: columns naming the server settings and load level; the frontier's markers are numbered and the legend gives each number's settings (1: max_num_seqs=64 max_concurrency=8)"`
}

// EffectiveKind is the chart's kind, the default filled in: box when a
// value is given, else line.
func (c *Chart) EffectiveKind() ChartKind {
	switch {
	case c.Kind != "":
		return c.Kind
	case c.Value != "":
		return ChartBox
	default:
		return ChartLine
	}
}

// validate reports what the chart's kind needs and what it cannot use, each
// at its key under cp ("studies[0].artifacts[2].chart").
func (c *Chart) validate(d *Decoder, node *yaml.Node, at Pos, cp string) ErrorList {
	var errs ErrorList
	pos := func(key string) Pos {
		if n := ValueNode(node, key); n != nil {
			return d.Pos(n)
		}
		return at
	}
	switch c.EffectiveKind() {
	case ChartLine:
		if c.X == "" || len(c.Y) == 0 {
			if c.Kind == "" {
				errs.Add(at, cp, "give x and y (line chart) or value and group (box plot)")
			} else {
				errs.Add(at, cp, "a line chart needs x and y")
			}
		}
	case ChartBox:
		if c.Value == "" || c.Group == "" {
			errs.Add(at, cp, "a box plot needs value and group")
		}
	case ChartPareto:
		if c.X == "" {
			errs.Add(at, cp+".x", "missing: a pareto chart needs x (e.g. output_throughput_per_user)")
		}
		if len(c.Y) != 1 {
			errs.Add(pos("y"), cp+".y", "a pareto chart needs exactly one y (e.g. [output_throughput]), got %d", len(c.Y))
		}
		for _, key := range []string{"value", "group", "series"} {
			if KeyNode(node, key) != nil {
				errs.Add(pos(key), cp+"."+key, "a pareto chart does not use %s", key)
			}
		}
	default:
		// The decoder rejects a value outside the vocabulary; this covers
		// a Chart built in Go.
		errs.Add(pos("kind"), cp+".kind", "%s", NotInEnum(string(c.Kind), ChartKinds))
	}
	if k := c.EffectiveKind(); len(c.Settings) > 0 && (k == ChartLine || k == ChartBox) {
		errs.Add(pos("settings"), cp+".settings", "only a pareto chart labels its markers with settings")
	}
	return errs
}

var (
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	idPattern   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
)

// Load reads and parses a spec file.
func Load(path string) (*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes data strictly and checks everything that does not depend on
// step kinds or sweep points. It returns every problem at once as an ErrorList.
func Parse(file string, data []byte) (*Experiment, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(file, data, err)
	}
	doc := resolve(&root)
	if doc == nil || doc.Kind == 0 {
		return nil, ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "empty spec"}}
	}
	// A second document would be silently ignored; one file is one
	// experiment. An empty one (a trailing '---') holds nothing to lose.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlSyntaxError(file, data, err)
		}
		if c := resolve(&next); c != nil && c.Kind != 0 && !IsNull(c) {
			return nil, ErrorList{{Pos: Pos{File: file, Line: c.Line, Col: c.Column},
				Msg: "a second YAML document: a spec file holds one experiment (remove the '---' separator or split the file)"}}
		}
	}
	x := &Experiment{File: file, Source: data, Root: &root}
	d := &Decoder{File: file}
	if errs := checkAliases(d, doc); len(errs) > 0 {
		return nil, errs
	}
	errs := d.Decode(doc, "", x)
	errs = append(errs, x.check(d, doc)...)
	if err := errs.Err(); err != nil {
		return x, err
	}
	return x, nil
}

// yamlSyntaxError turns yaml.v3's "yaml: line 3: ..." into a positioned Error.
func yamlSyntaxError(file string, data []byte, err error) error {
	msg := err.Error()
	var line int
	if _, e := fmt.Sscanf(strings.TrimPrefix(msg, "yaml: "), "line %d:", &line); e == nil {
		_, rest, _ := strings.Cut(msg, ": line ")
		_, rest, _ = strings.Cut(rest, ": ")
		if parserProblems[rest] {
			// yaml.v3 numbers the lines of parser (not scanner) errors
			// from 0: the line of the construct that could not be parsed.
			lines := bytes.Count(data, []byte("\n"))
			if !bytes.HasSuffix(data, []byte("\n")) {
				lines++ // an unterminated last line
			}
			line = min(line+1, max(lines, 1))
		}
		return ErrorList{{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "YAML syntax: " + rest}}
	}
	return ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
}

// parserProblems are the messages of yaml.v3's parser (parserc.go); its
// scanner's messages carry 1-based lines already.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// SHA256 is the hex digest of the spec's bytes, recorded in manifests.
func (x *Experiment) SHA256() string {
	h := sha256.Sum256(x.Source)
	return hex.EncodeToString(h[:])
}

func (x *Experiment) check(d *Decoder, doc *yaml.Node) ErrorList {
	var errs ErrorList
	at := func(key string) Pos {
		if k := KeyNode(doc, key); k != nil {
			return d.Pos(ValueNode(doc, key))
		}
		return d.Pos(doc)
	}
	switch {
	case KeyNode(doc, "version") == nil:
		errs.Add(d.Pos(doc), "version", "missing (write version: %s)", Version)
	case x.Version != Version:
		errs.Add(at("version"), "version", "unsupported version %q (this runexp reads %s)", x.Version, Version)
	}
	if KeyNode(doc, "name") == nil {
		errs.Add(d.Pos(doc), "name", "missing")
	} else if !namePattern.MatchString(x.Name) {
		errs.Add(at("name"), "name", "%q must be lower-case letters, digits, - or _", x.Name)
	}
	if len(x.Studies) == 0 {
		errs.Add(at("studies"), "studies", "at least one study is required")
	}
	studyNames := map[string]bool{}
	var items []*yaml.Node
	if n := resolve(ValueNode(doc, "studies")); n != nil && n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for i := range x.Studies {
		s := &x.Studies[i]
		path := fmt.Sprintf("studies[%d]", i)
		if resolve(s.Node) == nil || resolve(s.Node).Kind != yaml.MappingNode {
			// The decoder reports a scalar or list where a study belongs; a
			// null item decodes silently, so it is reported here.
			if i < len(items) && IsNull(items[i]) {
				errs.Add(d.Pos(items[i]), path, "must be a mapping (name, steps, ...), got null")
			}
			continue
		}
		if s.Name == "" {
			errs.Add(s.Pos, path+".name", "missing")
		} else if !namePattern.MatchString(s.Name) {
			errs.Add(d.Pos(ValueNode(s.Node, "name")), path+".name", "%q must be lower-case letters, digits, - or _", s.Name)
		} else if studyNames[s.Name] {
			errs.Add(d.Pos(ValueNode(s.Node, "name")), path+".name", "duplicate study name %q", s.Name)
		}
		studyNames[s.Name] = true
		if steps := resolve(s.Steps); steps == nil || steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
			errs.Add(s.Pos, path+".steps", "at least one step is required")
		}
	}
	if KeyNode(doc, "max_points") != nil && x.MaxPoints < 1 {
		errs.Add(at("max_points"), "max_points", "must be at least 1, got %d", x.MaxPoints)
	}
	errs = append(errs, x.Vars.check(d)...)
	errs = append(errs, x.checkExecutor(d)...)
	return errs
}

// DefaultMaxPoints is the sweep size allowed when a spec sets no max_points:
// generous for real experiments, far below what exhausts memory.
const DefaultMaxPoints = 100_000

// PointCap is the spec's max_points, or DefaultMaxPoints.
func (x *Experiment) PointCap() int {
	if x.MaxPoints > 0 {
		return x.MaxPoints
	}
	return DefaultMaxPoints
}

// CheckAxes reports axes whose names clash with vars.
func CheckAxes(sw *Sweep, path string, vars Vars) ErrorList {
	var errs ErrorList
	if sw != nil {
		for _, a := range sw.Axes {
			if _, ok := vars.Lookup(a.Name); ok {
				if a.Name == RepeatAxis { // the repetition index (repeat: N), not a declared axis
					errs.Add(a.Pos, path+".sweep.repeat", "a var is called repeat too; ${repeat} would be ambiguous")
					continue
				}
				errs.Add(a.Pos, path+".sweep.axes."+a.Name, "axis name %q is also a var; ${%s} would be ambiguous", a.Name, a.Name)
			}
		}
	}
	return errs
}

// CheckSteps fills default ids and checks ids and needs. path is the
// steps list's path, e.g. "studies[0].steps".
func CheckSteps(d *Decoder, path string, steps []Step) ErrorList {
	var errs ErrorList
	s := struct{ Steps []Step }{steps}
	// Default ids: the type, when that type is used once.
	typeCount := map[string]int{}
	for _, st := range s.Steps {
		typeCount[st.Type]++
	}
	seen := map[string]int{}
	for i := range s.Steps {
		st := &s.Steps[i]
		sp := fmt.Sprintf("%s[%d]", path, i)
		if st.Node == nil {
			continue // not a mapping: the decoder reported it
		}
		if KeyNode(st.Node, "type") == nil {
			errs.Add(st.Pos, sp+".type", "missing")
		}
		if st.ID == "" && st.Type != "" {
			if typeCount[st.Type] > 1 {
				errs.Add(st.Pos, sp+".id", "missing: type %q is used more than once, so each needs an id", st.Type)
			} else {
				st.ID = st.Type
			}
		}
		if st.ID != "" && KeyNode(st.Node, "id") != nil && !idPattern.MatchString(st.ID) {
			errs.Add(d.Pos(ValueNode(st.Node, "id")), sp+".id", "%q must start with a letter and use letters, digits, - or _", st.ID)
		}
		if j, dup := seen[st.ID]; dup && st.ID != "" {
			pos := st.Pos
			if v := ValueNode(st.Node, "id"); v != nil {
				pos = d.Pos(v)
			}
			errs.Add(pos, sp+".id", "duplicate step id %q (also steps[%d])", st.ID, j)
		}
		if st.ID != "" {
			seen[st.ID] = i
		}
		needsNode := resolve(ValueNode(st.Node, "needs"))
		for k, need := range st.Needs {
			pos := st.Pos
			if needsNode != nil && k < len(needsNode.Content) {
				pos = d.Pos(needsNode.Content[k])
			}
			j, ok := seen[need]
			switch {
			case ok && j == i:
				errs.Add(pos, fmt.Sprintf("%s.needs[%d]", sp, k), "a step cannot need itself")
			case ok:
			default:
				later := false
				for _, other := range s.Steps[i+1:] {
					if other.ID == need || (other.ID == "" && other.Type == need) {
						later = true
					}
				}
				if later {
					errs.Add(pos, fmt.Sprintf("%s.needs[%d]", sp, k), "step %q comes later; needs must name earlier steps", need)
				} else {
					errs.Add(pos, fmt.Sprintf("%s.needs[%d]", sp, k), "unknown step %q%s", need, DidYouMean(need, keys(seen)))
				}
			}
		}
	}
	return errs
}

// CheckArtifacts checks artifact paths, formats and their options. field is
// the artifacts list's path.
func CheckArtifacts(d *Decoder, field string, artifacts []Artifact) ErrorList {
	var errs ErrorList
	artifactPaths := map[string]bool{}
	for i := range artifacts {
		a := &artifacts[i]
		ap := fmt.Sprintf("%s[%d]", field, i)
		if a.Node == nil {
			continue // not a mapping: the decoder reported it
		}
		pathPos := d.Pos(ValueNode(a.Node, "path"))
		switch {
		case a.Path == "":
			errs.Add(a.Pos, ap+".path", "missing")
		case !Confined(a.Path):
			errs.Add(pathPos, ap+".path", "%q escapes the run directory; use a relative path without ..", a.Path)
		case strings.HasSuffix(a.Path, "/") || path.Base(path.Clean(a.Path)) == ".":
			errs.Add(pathPos, ap+".path", "%q names a folder; give a file name, e.g. results.csv", a.Path)
		case artifactPaths[path.Clean(a.Path)]:
			errs.Add(pathPos, ap+".path", "duplicate artifact path %q", a.Path)
		}
		artifactPaths[path.Clean(a.Path)] = true
		fmtPos := d.Pos(ValueNode(a.Node, "format"))
		switch a.Format {
		case FormatCSV, FormatJSON, FormatJSONL:
		case FormatMarkdown:
			if a.Template == "" {
				errs.Add(a.Pos, ap+".template", "markdown artifacts need a template file")
			}
		case FormatChart:
			if a.Chart == nil {
				errs.Add(a.Pos, ap+".chart", "chart artifacts need a chart: block")
			} else {
				errs = append(errs, a.Chart.validate(d, ValueNode(a.Node, "chart"), d.Pos(ValueNode(a.Node, "chart")), ap+".chart")...)
			}
			if !strings.HasSuffix(a.Path, ".svg") && !strings.HasSuffix(a.Path, ".png") {
				errs.Add(pathPos, ap+".path", "a chart is written as .svg or .png, got %q", a.Path)
			}
		case "":
			if KeyNode(a.Node, "format") == nil { // else the decoder rejected its value
				errs.Add(a.Pos, ap+".format", "missing (one of %s)", strings.Join(ArtifactFormats, ", "))
			}
		default:
			// The decoder rejects a value outside the vocabulary; this
			// covers an Artifact built in Go.
			errs.Add(fmtPos, ap+".format", "%s", NotInEnum(string(a.Format), ArtifactFormats))
		}
		if a.Template != "" && a.Format != FormatMarkdown {
			errs.Add(d.Pos(ValueNode(a.Node, "template")), ap+".template", "only markdown artifacts use a template")
		}
	}
	return errs
}

// Confined reports whether a relative path stays inside its base directory.
func Confined(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
