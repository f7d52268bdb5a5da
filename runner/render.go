package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/runexp/runexp/spec"
)

// WriteText prints the plan for humans: every point and, for each step,
// every configuration field after substitution and defaults. Points are
// written as they come, so a plan compiled with Options.CountOnly is
// printed without holding its points.
func (p *Plan) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "experiment %s (%s, sha256 %s)\n", p.Experiment, p.File, short(p.SpecSHA256))
	fmt.Fprintf(b, "run dir    %s\n", p.RunDir)
	fmt.Fprintf(b, "on_error   %s\n", p.OnError)
	if p.Executor != "" && p.Executor != spec.ExecutorLocal {
		fmt.Fprintf(b, "executor   %s\n", p.Executor)
	}
	for _, o := range p.Only {
		fmt.Fprintf(b, "only       %s=%s\n", o.Name, o.Value)
	}
	if len(p.Vars) > 0 {
		b.WriteString("vars\n")
		for _, v := range p.Vars {
			fmt.Fprintf(b, "  %s = %s\n", v.Name, compact(v.Value))
		}
	}
	total := 0
	for _, s := range p.Studies {
		total += s.count()
	}
	fmt.Fprintf(b, "%d studies, %d points\n", len(p.Studies), total)
	for _, s := range p.Studies {
		fmt.Fprintf(b, "\nstudy %s: %d points", s.Name, s.count())
		dims := slices.Clone(s.Axes)
		if s.Repeat > 1 {
			dims = append(dims, fmt.Sprintf("%d repetitions (repeat 1..%d, each run on its own)", s.Repeat, s.Repeat))
		}
		if len(dims) > 0 {
			fmt.Fprintf(b, " over %s", strings.Join(dims, " × "))
		}
		b.WriteString("\n")
		if len(s.Submit) > 0 {
			fmt.Fprintf(b, "  submit %s\n", strings.Join(s.Submit, " "))
		}
		s.EachPoint(func(pt *PointPlan) bool {
			label := pt.Label
			if label == "" {
				label = "(single point)"
			}
			fmt.Fprintf(b, "  point %s %s\n    dir %s\n", pt.ID, label, pt.Dir)
			for i, st := range pt.Steps {
				fmt.Fprintf(b, "    %d. %s [%s] timeout %s", i+1, st.ID, st.Type, st.Timeout)
				if len(st.Needs) > 0 {
					fmt.Fprintf(b, " needs %s", strings.Join(st.Needs, ","))
				}
				if st.Always {
					b.WriteString(" always")
				}
				b.WriteString("\n")
				for _, line := range describe(st.With) {
					fmt.Fprintf(b, "         %s\n", p.secrets.JSONText(line))
				}
			}
			return true
		})
		for _, a := range s.Artifacts {
			from := a.From
			if from == "" {
				from = "points"
			}
			if a.Aggregate == spec.AggregateRepeat {
				from += ", repetitions folded into mean and 95 % CI"
			}
			fmt.Fprintf(b, "  artifact %s (%s from %s)\n", a.Path, a.Format, from)
		}
	}
	return b.Flush()
}

// WriteJSON writes the plan as indented JSON, the bytes
// json.Encoder.SetIndent("", "  ") gives, streaming the points of a plan
// compiled with Options.CountOnly one at a time.
func (p *Plan) WriteJSON(w io.Writer) error {
	streamed := false
	for _, s := range p.Studies {
		streamed = streamed || (len(s.Points) == 0 && s.compile != nil)
	}
	if !streamed {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	// Encode the plan with every study's points left out (null), then
	// write each study's points in place of its null.
	head, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	const hole = `"points": null`
	b := bufio.NewWriter(w)
	for _, s := range p.Studies {
		i := bytes.Index(head, []byte(hole))
		if i < 0 {
			return fmt.Errorf("plan JSON: no points of study %s", s.Name)
		}
		b.Write(head[:i+len(hole)-len("null")])
		head = head[i+len(hole):]
		b.WriteString("[")
		n := 0
		var werr error
		s.EachPoint(func(pt *PointPlan) bool {
			data, err := json.MarshalIndent(pt, "        ", "  ")
			if err != nil {
				werr = err
				return false
			}
			if n > 0 {
				b.WriteString(",")
			}
			n++
			b.WriteString("\n        ")
			b.Write(data)
			return true
		})
		if werr != nil {
			return werr
		}
		if n == 0 {
			b.WriteString("]")
		} else {
			b.WriteString("\n      ]")
		}
	}
	b.Write(head)
	b.WriteString("\n")
	return b.Flush()
}

// describe renders a step config's fields as "key: value" lines using their
// JSON names, so the text plan and the JSON plan show the same things.
func describe(cfg any) []string {
	data, err := json.Marshal(cfg)
	if err != nil {
		return []string{"(unprintable: " + err.Error() + ")"}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return []string{string(data)}
	}
	order := jsonFieldOrder(reflect.TypeOf(cfg))
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if v, ok := m[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k+": "+string(v))
		}
	}
	for _, k := range order {
		add(k)
	}
	rest := make([]string, 0, len(m))
	for k := range m {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		add(k)
	}
	return out
}

func jsonFieldOrder(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			// An embedded config piece (GPUSpec, Process, ServerRef): its
			// keys sit where it is embedded, as encoding/json puts them.
			out = append(out, jsonFieldOrder(f.Type)...)
		case name != "" && name != "-":
			out = append(out, name)
		}
	}
	return out
}

func compact(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
