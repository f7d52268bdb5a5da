// Package artifact encodes a study's results into the files its spec
// declares: a registry of formats (csv, json, jsonl, markdown, chart), each
// turning rows into bytes.
//
// Contract: an encoder is pure: it gets a Job (the artifact's declaration,
// its rows and, for markdown, the template's data) and returns the file's
// bytes; it writes nothing. The runner decides when each artifact is written
// (data formats after every point, Final ones once at the end) and writes it
// atomically inside the run directory. Encoding is deterministic: the same
// rows give the same bytes. Rows that hold repetitions of points (a sweep's
// repeat: N) are folded into one row per point, with n and each number's
// mean and 95 % Student-t interval, for an artifact with aggregate: repeat
// and for line charts (drawn as means with error bars).
package artifact

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

// Job is one artifact to encode.
type Job struct {
	Artifact spec.Artifact
	Rows     []results.Row // the artifact's from: rows (points, or a table)
	Columns  []string      // every name of Rows, in order of first appearance
	SpecDir  string        // markdown templates resolve here
	Axes     []string      // the study's sweep axes: a line chart's default series
	// Repeated is true when the rows hold repetitions of points (a sweep
	// with repeat: N > 1, their index in the repeat column): a line chart
	// then draws each point's mean with its 95 % interval.
	Repeated bool
	// Data returns what a markdown template sees besides Rows; only the
	// formats that need it call it.
	Data func() TemplateData
}

// Format is one artifact format.
type Format struct {
	Name string
	// Final formats are rendered once, after the study's last point
	// (markdown, charts); the others are rewritten after every point, so
	// that no finished result is lost.
	Final  bool
	Encode func(Job) ([]byte, error)
}

// formats is the registry, in the order `format:` lists them.
var formats = []Format{
	{Name: "csv", Encode: encodeCSV},
	{Name: "json", Encode: encodeJSON},
	{Name: "jsonl", Encode: encodeJSONL},
	{Name: "markdown", Final: true, Encode: encodeMarkdown},
	{Name: "chart", Final: true, Encode: encodeChart},
}

// Lookup finds a format by name.
func Lookup(name string) (Format, bool) {
	for _, f := range formats {
		if f.Name == name {
			return f, true
		}
	}
	return Format{}, false
}

// Encode encodes j in its artifact's format.
func Encode(j Job) ([]byte, error) {
	f, ok := Lookup(string(j.Artifact.Format))
	if !ok {
		return nil, fmt.Errorf("unknown format %q", j.Artifact.Format)
	}
	if j.Artifact.Aggregate == spec.AggregateRepeat {
		j.Rows, j.Columns = foldRepeats(j.Rows, j.Columns, j.Axes)
		j.Repeated = false
	}
	return f.Encode(j)
}

// encodeCSV writes the declared columns, or every column.
func encodeCSV(j Job) ([]byte, error) {
	cols := j.Artifact.Columns
	if len(cols) == 0 {
		cols = j.Columns
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(cols)
	for _, r := range j.Rows {
		rec := make([]string, len(cols))
		for i, c := range cols {
			rec[i] = cell(r[c])
		}
		w.Write(rec)
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// encodeJSON writes the rows as one indented list.
func encodeJSON(j Job) ([]byte, error) {
	rows := j.Rows
	if rows == nil {
		rows = []results.Row{} // a list, also when no point produced a row
	}
	return json.MarshalIndent(rows, "", "  ")
}

// encodeJSONL writes one row per line.
func encodeJSONL(j Job) ([]byte, error) {
	var b bytes.Buffer
	for _, r := range j.Rows {
		line, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
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

// TemplateData is what a markdown template sees.
type TemplateData struct {
	Experiment  string
	Description string
	Study       string
	RunDir      string
	Vars        map[string]any
	Rows        []results.Row            // one per point (or the artifact's from: table)
	Points      []results.Row            // one per point, always
	Tables      map[string][]results.Row // every table of the study
}

// encodeMarkdown executes the artifact's template (relative to the spec
// file) on the job's data.
func encodeMarkdown(j Job) ([]byte, error) {
	path := filepath.Join(j.SpecDir, j.Artifact.Template)
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := template.New(filepath.Base(path)).Funcs(TemplateFuncs()).Option("missingkey=zero").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var data TemplateData
	if j.Data != nil {
		data = j.Data()
	}
	data.Rows = j.Rows
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
