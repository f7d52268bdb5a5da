package spec

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Var is one entry of `vars:`. A plain var holds a scalar or a list of
// scalars (a list splices into argv lists). A select var picks its value from
// Cases by the value of another, earlier var:
//
//	engine: vllm
//	server:
//	  select: engine
//	  cases: {vllm: [vllm, serve], sim: [runexp, sim, serve]}
type Var struct {
	Name   string
	Value  *yaml.Node // plain var: the value (after --set)
	Select string     // select var: the var that chooses
	Cases  []Case     // select var: the choices in file order

	Pos       Pos // the var's name
	SelectPos Pos // select var: its select value
}

// Case is one choice of a select var.
type Case struct {
	Key   string
	Value *yaml.Node
}

// Vars are the experiment's variables in file order.
type Vars []Var

// UnmarshalSpec reads the vars mapping, keeping file order.
func (vs *Vars) UnmarshalSpec(d *Decoder, n *yaml.Node, path string) ErrorList {
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return d.Errorf(n, path, "expected a mapping of name: value, got %s", kindName(n))
	}
	errs := d.duplicateKeys(n, path)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), resolve(n.Content[i+1])
		vp := joinPath(path, k.Value)
		if _, dup := vs.Lookup(k.Value); dup {
			continue // reported by duplicateKeys
		}
		if !idPattern.MatchString(k.Value) || strings.Contains(k.Value, "-") {
			errs = append(errs, d.Errorf(k, vp, "var names use letters, digits and _ and start with a letter")...)
			continue
		}
		if reservedRoot(k.Value) {
			errs = append(errs, d.Errorf(k, vp, "%q is reserved for ${%s.…} references", k.Value, k.Value)...)
			continue
		}
		v := Var{Name: k.Value, Pos: d.Pos(k)}
		if val.Kind == yaml.MappingNode {
			var sel struct {
				Select string     `yaml:"select"`
				Cases  *yaml.Node `yaml:"cases"`
			}
			if e := d.Decode(val, vp, &sel); e != nil {
				errs = append(errs, e...)
				continue
			}
			cases := resolve(sel.Cases)
			if sel.Select == "" || cases == nil || cases.Kind != yaml.MappingNode || len(cases.Content) == 0 {
				errs = append(errs, d.Errorf(val, vp, "a mapping var must be {select: VAR, cases: {VALUE: ...}}")...)
				continue
			}
			v.Select = sel.Select
			v.SelectPos = d.Pos(ValueNode(val, "select"))
			if e := d.duplicateKeys(cases, vp+".cases"); e != nil {
				errs = append(errs, e...)
				continue
			}
			for j := 0; j+1 < len(cases.Content); j += 2 {
				ck, cv := resolve(cases.Content[j]), resolve(cases.Content[j+1])
				if e := checkVarValue(d, cv, joinPath(vp, "cases."+ck.Value)); e != nil {
					errs = append(errs, e...)
					continue
				}
				v.Cases = append(v.Cases, Case{Key: ck.Value, Value: cv})
			}
		} else {
			if e := checkVarValue(d, val, vp); e != nil {
				errs = append(errs, e...)
				continue
			}
			v.Value = val
		}
		*vs = append(*vs, v)
	}
	return errs
}

func checkVarValue(d *Decoder, n *yaml.Node, path string) ErrorList {
	switch n.Kind {
	case yaml.ScalarNode:
		return nil
	case yaml.SequenceNode:
		var errs ErrorList // every bad item, each at its own position
		for i, item := range n.Content {
			if resolve(item).Kind != yaml.ScalarNode {
				errs = append(errs, d.Errorf(item, fmt.Sprintf("%s[%d]", path, i), "list vars hold scalars only")...)
			}
		}
		return errs
	}
	return d.Errorf(n, path, "expected a scalar or a list of scalars, got %s", kindName(n))
}

// Lookup finds a var by name.
func (vs Vars) Lookup(name string) (*Var, bool) {
	for i := range vs {
		if vs[i].Name == name {
			return &vs[i], true
		}
	}
	return nil, false
}

// Names lists the var names in file order.
func (vs Vars) Names() []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

func (vs Vars) check(d *Decoder) ErrorList {
	var errs ErrorList
	for i, v := range vs {
		if v.Select == "" {
			continue
		}
		j := -1
		for k := range vs[:i] {
			if vs[k].Name == v.Select {
				j = k
			}
		}
		if j < 0 {
			errs.Add(v.SelectPos, "vars."+v.Name+".select", "%q must name an earlier var%s", v.Select, DidYouMean(v.Select, vs.Names()))
		} else if vs[j].Value == nil || vs[j].Value.Kind != yaml.ScalarNode {
			errs.Add(v.SelectPos, "vars."+v.Name+".select", "%q must be a plain scalar var", v.Select)
		}
	}
	return errs
}

// Override is one --set NAME=VALUE.
type Override struct{ Name, Value string }

// ParseOverride splits "name=value".
func ParseOverride(s string) (Override, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Override{}, fmt.Errorf("--set %q: want NAME=VALUE", s)
	}
	return Override{Name: name, Value: value}, nil
}

// Resolve applies overrides and evaluates select vars. It returns each var's
// final value node. Overrides are parsed as YAML scalars and must keep the
// declared type (an int var stays an int). Problems with the overrides are
// returned as a plain error (a usage error); a select var whose chooser, as
// written in the file, has no case is a spec problem, returned as an
// ErrorList positioned at the chooser's value, together with values (using
// the first case) so that the caller can check the rest of the file.
func (vs Vars) Resolve(overrides []Override) (map[string]*yaml.Node, error) {
	values := map[string]*yaml.Node{}
	var problems []string
	var specErrs ErrorList
	set := map[string]string{}
	for _, o := range overrides {
		v, ok := vs.Lookup(o.Name)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("--set %s: no such var%s (vars: %s)", o.Name, DidYouMean(o.Name, vs.Names()), strings.Join(vs.Names(), ", ")))
		case v.Select != "":
			problems = append(problems, fmt.Sprintf("--set %s: this var is chosen by %q; set that instead", o.Name, v.Select))
		default:
			set[o.Name] = o.Value
		}
	}
	for _, v := range vs {
		if v.Select != "" {
			chooser := values[v.Select]
			if chooser == nil || chooser.Kind != yaml.ScalarNode || len(v.Cases) == 0 {
				continue // reported by check (or by the parser, for invalid cases)
			}
			found := false
			var keys []string
			for _, c := range v.Cases {
				keys = append(keys, c.Key)
				if c.Key == chooser.Value {
					values[v.Name] = c.Value
					found = true
				}
			}
			if !found {
				if _, overridden := set[v.Select]; overridden {
					problems = append(problems, fmt.Sprintf("--set %s=%s: var %s has no case %q (cases: %s)", v.Select, chooser.Value, v.Name, chooser.Value, strings.Join(keys, ", ")))
				} else {
					at := Pos{File: v.Pos.File, Line: chooser.Line, Col: chooser.Column}
					specErrs.Add(at, "vars."+v.Select, "%q has no case in var %s (cases: %s)", chooser.Value, v.Name, strings.Join(keys, ", "))
					// Go on with the first case, so the rest of the file is
					// checked without errors that follow from this one.
					values[v.Name] = v.Cases[0].Value
				}
			}
			continue
		}
		raw, overridden := set[v.Name]
		if !overridden {
			values[v.Name] = v.Value
			continue
		}
		n, err := overrideNode(v, raw)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		values[v.Name] = n
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	if len(specErrs) > 0 {
		return values, specErrs
	}
	return values, nil
}

func overrideNode(v Var, raw string) (*yaml.Node, error) {
	decl := v.Value
	if decl.Kind == yaml.SequenceNode {
		var list yaml.Node
		if err := yaml.Unmarshal([]byte(raw), &list); err != nil || resolve(&list) == nil || resolve(&list).Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("--set %s=%s: this var is a list; write a YAML list such as [a, b]", v.Name, raw)
		}
		return resolve(&list), nil
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: raw, Line: decl.Line, Column: decl.Column}
	want := decl.ShortTag()
	got := n.ShortTag()
	switch want {
	case "!!str":
		n.Tag = "!!str"
	case "!!int":
		if got != "!!int" {
			return nil, fmt.Errorf("--set %s=%s: expected an integer", v.Name, raw)
		}
	case "!!float":
		if got != "!!int" && got != "!!float" {
			return nil, fmt.Errorf("--set %s=%s: expected a number", v.Name, raw)
		}
	case "!!bool":
		if got != "!!bool" {
			return nil, fmt.Errorf("--set %s=%s: expected true or false", v.Name, raw)
		}
	}
	return n, nil
}
