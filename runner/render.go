package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// WriteText prints the plan for humans: every point and, for each step,
// every configuration field after substitution and defaults.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "experiment %s (%s, sha256 %s)\n", p.Experiment, p.File, short(p.SpecSHA256))
	fmt.Fprintf(&b, "run dir    %s\n", p.RunDir)
	fmt.Fprintf(&b, "on_error   %s\n", p.OnError)
	if len(p.Vars) > 0 {
		b.WriteString("vars\n")
		for _, v := range p.Vars {
			fmt.Fprintf(&b, "  %s = %s\n", v.Name, compact(v.Value))
		}
	}
	total := 0
	for _, s := range p.Studies {
		total += len(s.Points)
	}
	fmt.Fprintf(&b, "%d studies, %d points\n", len(p.Studies), total)
	for _, s := range p.Studies {
		fmt.Fprintf(&b, "\nstudy %s: %d points", s.Name, len(s.Points))
		if len(s.Axes) > 0 {
			fmt.Fprintf(&b, " over %s", strings.Join(s.Axes, " × "))
		}
		b.WriteString("\n")
		for _, pt := range s.Points {
			label := pt.Label
			if label == "" {
				label = "(single point)"
			}
			fmt.Fprintf(&b, "  point %s %s\n    dir %s\n", pt.ID, label, pt.Dir)
			for i, st := range pt.Steps {
				fmt.Fprintf(&b, "    %d. %s [%s] timeout %s", i+1, st.ID, st.Type, st.Timeout)
				if len(st.Needs) > 0 {
					fmt.Fprintf(&b, " needs %s", strings.Join(st.Needs, ","))
				}
				if st.Always {
					b.WriteString(" always")
				}
				b.WriteString("\n")
				for _, line := range describe(st.With) {
					fmt.Fprintf(&b, "         %s\n", p.secrets.Text(line))
				}
			}
		}
		for _, a := range s.Artifacts {
			from := a.From
			if from == "" {
				from = "points"
			}
			fmt.Fprintf(&b, "  artifact %s (%s from %s)\n", a.Path, a.Format, from)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
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
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
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
