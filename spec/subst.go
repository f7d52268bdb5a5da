package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// reservedRoot reports whether name is a reference prefix and so cannot be a
// var or axis name.
func reservedRoot(name string) bool {
	switch name {
	case "env", "point", "run", "spec", "study", "sweep", "vars":
		return true
	}
	return false
}

// Scope holds the names ${...} can refer to: vars and sweep axes by their
// bare names, and point.id, point.slug, point.dir, run.dir, spec.dir (the
// spec file's folder, absolute), study.name, study.dir. ${env.NAME} reads the environment, only when written explicitly;
// ${env.NAME:-default} gives a default for an unset variable.
//
// A Scope remembers every value it read from the environment (shared with
// its clones), so that what runexp prints can show ${env.NAME} instead of a
// token passed through the environment: see EnvValues.
type Scope struct {
	names map[string]*yaml.Node
	env   func(string) (string, bool)
	read  *envReads
}

// EnvValue is one environment variable a substitution read.
type EnvValue struct{ Name, Value string }

type envReads struct {
	mu   sync.Mutex
	seen map[EnvValue]bool
	list []EnvValue
}

// EnvValues lists the environment variables that substitutions through s
// (or any clone of it) read, in order of first use. Defaults (${env.X:-d}
// with X unset) are not listed: they are written in the spec.
func (s *Scope) EnvValues() []EnvValue {
	s.read.mu.Lock()
	defer s.read.mu.Unlock()
	return append([]EnvValue(nil), s.read.list...)
}

// NewScope returns an empty scope reading the environment through env (nil:
// every env reference is unset).
func NewScope(env func(string) (string, bool)) *Scope {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	return &Scope{names: map[string]*yaml.Node{}, env: env, read: &envReads{seen: map[EnvValue]bool{}}}
}

// Clone returns a copy that can be extended without changing s.
func (s *Scope) Clone() *Scope {
	c := &Scope{names: make(map[string]*yaml.Node, len(s.names)+8), env: s.env, read: s.read}
	for k, v := range s.names {
		c.names[k] = v
	}
	return c
}

// Set binds name to a value node.
func (s *Scope) Set(name string, n *yaml.Node) { s.names[name] = n }

// SetString binds name to a string value.
func (s *Scope) SetString(name, value string) {
	s.names[name] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
}

// Get returns the node bound to name.
func (s *Scope) Get(name string) (*yaml.Node, bool) {
	n, ok := s.names[name]
	return n, ok
}

// Names lists the bound names, sorted.
func (s *Scope) Names() []string {
	out := keys(s.names)
	sort.Strings(out)
	return out
}

func (s *Scope) lookup(ref string) (*yaml.Node, error) {
	if name, ok := strings.CutPrefix(ref, "env."); ok {
		name, def, hasDef := strings.Cut(name, ":-")
		if v, ok := s.env(name); ok {
			s.read.add(EnvValue{name, v})
			// Environment values are text; a plain scalar lets "8000" be an int.
			return &yaml.Node{Kind: yaml.ScalarNode, Value: v}, nil
		}
		if hasDef {
			return &yaml.Node{Kind: yaml.ScalarNode, Value: def}, nil
		}
		return nil, fmt.Errorf("environment variable %s is not set (write ${env.%s:-default} for a default)", name, name)
	}
	if n, ok := s.names[ref]; ok {
		return n, nil
	}
	return nil, fmt.Errorf("unknown name ${%s}%s (known: %s, env.NAME)", ref, DidYouMean(ref, s.Names()), strings.Join(s.Names(), ", "))
}

func (r *envReads) add(v EnvValue) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.seen[v] {
		r.seen[v] = true
		r.list = append(r.list, v)
	}
}

// References lists the names n refers to with ${...}, sorted, each once
// (env.NAME included). Substituting n gives equal nodes, positions included,
// in two scopes that bind these names to equal values: a plan of a huge
// sweep checks each distinct combination once.
func References(n *yaml.Node) []string {
	var refs []string
	collectRefs(n, map[*yaml.Node]bool{}, &refs)
	sort.Strings(refs)
	return slices.Compact(refs)
}

// collectRefs appends every ${...} reference under n.
func collectRefs(n *yaml.Node, seen map[*yaml.Node]bool, refs *[]string) {
	n = resolve(n)
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.Kind == yaml.ScalarNode {
		v := n.Value
		for {
			i := strings.Index(v, "${")
			if i < 0 {
				return
			}
			end := strings.IndexByte(v[i:], '}')
			if end < 0 {
				return
			}
			*refs = append(*refs, v[i+2:i+end])
			v = v[i+end:]
		}
	}
	for _, c := range n.Content {
		collectRefs(c, seen, refs)
	}
}

// Substitute returns a deep copy of n with every ${...} replaced. A scalar
// that is exactly one reference takes the referenced value's type (so
// `port: ${port}` stays an integer); a list item that is exactly one reference
// to a list var is spliced into the list; anything else becomes a string.
// "$$" is a literal "$". A bare $NAME is an error, so a stray $HOME is never
// silently emptied. Positions of the copy are those of the original.
func (d *Decoder) Substitute(n *yaml.Node, path string, s *Scope) (*yaml.Node, ErrorList) {
	if n == nil {
		return nil, nil
	}
	var errs ErrorList
	out := d.subst(n, path, s, &errs)
	return out, errs
}

func (d *Decoder) subst(n *yaml.Node, path string, s *Scope, errs *ErrorList) *yaml.Node {
	n = resolve(n)
	if n == nil {
		return nil
	}
	c := *n
	switch n.Kind {
	case yaml.MappingNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := *resolve(n.Content[i])
			c.Content[i] = &k
			c.Content[i+1] = d.subst(n.Content[i+1], joinPath(path, k.Value), s, errs)
		}
	case yaml.SequenceNode:
		c.Content = make([]*yaml.Node, 0, len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			item = resolve(item)
			if ref, ok := wholeRef(item); ok && item.Kind == yaml.ScalarNode {
				v, err := s.lookup(ref)
				if err != nil {
					*errs = append(*errs, &Error{Pos: d.Pos(item), Path: ip, Msg: err.Error()})
					c.Content = append(c.Content, item)
					continue
				}
				if v.Kind == yaml.SequenceNode {
					for _, x := range v.Content {
						cp := *resolve(x)
						cp.Line, cp.Column = item.Line, item.Column
						c.Content = append(c.Content, &cp)
					}
					continue
				}
			}
			c.Content = append(c.Content, d.subst(item, ip, s, errs))
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return &c
		}
		if ref, ok := wholeRef(n); ok {
			v, err := s.lookup(ref)
			if err != nil {
				*errs = append(*errs, &Error{Pos: d.Pos(n), Path: path, Msg: err.Error()})
				return &c
			}
			if v.Kind != yaml.ScalarNode {
				if v.Kind == yaml.SequenceNode {
					cp := *v
					cp.Line, cp.Column = n.Line, n.Column
					return &cp
				}
			}
			cp := *v
			cp.Line, cp.Column = n.Line, n.Column
			return &cp
		}
		val, err := expandString(n.Value, s)
		if err != nil {
			*errs = append(*errs, &Error{Pos: d.Pos(n), Path: path, Msg: err.Error()})
			return &c
		}
		c.Value = val
		c.Tag = "!!str"
		c.Style = yaml.DoubleQuotedStyle
	}
	return &c
}

// wholeRef reports whether a scalar is exactly one "${name}".
func wholeRef(n *yaml.Node) (string, bool) {
	v := n.Value
	if n.Kind != yaml.ScalarNode || !strings.HasPrefix(v, "${") || !strings.HasSuffix(v, "}") {
		return "", false
	}
	inner := v[2 : len(v)-1]
	if strings.ContainsAny(inner, "${}") {
		return "", false
	}
	return inner, true
}

// expandString replaces every reference in a string.
func expandString(v string, s *Scope) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 >= len(v) {
			b.WriteByte('$')
			continue
		}
		switch next := v[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '{':
			end := strings.IndexByte(v[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", v)
			}
			ref := v[i+2 : i+end]
			n, err := s.lookup(ref)
			if err != nil {
				return "", err
			}
			if n.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("${%s} is a list and cannot be part of a string; use it alone as a list item", ref)
			}
			b.WriteString(n.Value)
			i += end
		case next == '_' || (next >= 'A' && next <= 'Z') || (next >= 'a' && next <= 'z'):
			j := i + 1
			for j < len(v) && (v[j] == '_' || (v[j] >= 'A' && v[j] <= 'Z') || (v[j] >= 'a' && v[j] <= 'z') || (v[j] >= '0' && v[j] <= '9')) {
				j++
			}
			name := v[i+1 : j]
			return "", fmt.Errorf("bare $%s is not substituted: write ${env.%s} for the environment, ${%s} for a var, or $$%s for a literal $", name, name, name, name)
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}
