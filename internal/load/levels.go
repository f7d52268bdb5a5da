package load

import (
	"fmt"
	"strings"

	"github.com/runexp/runexp/spec"
	"go.yaml.in/yaml/v3"
)

// Modes is a load step's list of modes as a spec writes it. A mode whose
// concurrency or rate is a list expands, in order, into one mode per value
// run against the same server (the load axis, without relaunching):
// {kind: concurrent, concurrency: [1, 8]} becomes modes "concurrent-1" and
// "concurrent-8". A name containing {concurrency} or {rate} is a pattern
// ("c{concurrency}" → "c1", "c8"); any other name gets "-<value>" appended.
type Modes []Mode

// levelKeys are the mode keys that may hold a list of load levels.
var levelKeys = []string{"concurrency", "rate"}

var _ spec.Unmarshaler = (*Modes)(nil)

// UnmarshalSpec decodes the list, expanding list-valued levels. Problems of
// an expanded mode are reported once, at the key of the mode as written.
func (ms *Modes) UnmarshalSpec(d *spec.Decoder, n *yaml.Node, path string) spec.ErrorList {
	if spec.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return d.Errorf(n, path, "expected a list of modes, got %s", n.ShortTag())
	}
	var out Modes
	var errs spec.ErrorList
	seen := map[string]bool{}
	report := func(list spec.ErrorList) {
		for _, e := range list {
			if k := e.Path + "\x00" + e.Msg; !seen[k] {
				seen[k] = true
				errs = append(errs, e)
			}
		}
	}
	for i, item := range n.Content {
		at := fmt.Sprintf("%s[%d]", path, i)
		key, values := levelList(item)
		if key == "" {
			var m Mode
			report(d.Decode(item, at, &m))
			m.specPath = fmt.Sprintf("modes[%d]", i)
			out = append(out, m)
			continue
		}
		if other, _ := levelList(withoutKey(item, key)); other != "" {
			report(d.Errorf(spec.ValueNode(item, other), at+"."+other, "only one of concurrency and rate may be a list"))
			continue
		}
		if len(values.Content) == 0 {
			report(d.Errorf(values, at+"."+key, "give at least one value"))
			continue
		}
		for _, v := range values.Content {
			var m Mode
			report(d.Decode(withValue(item, key, v), at, &m))
			m.Name = levelName(m, key, v.Value)
			m.specPath = fmt.Sprintf("modes[%d]", i)
			out = append(out, m)
		}
	}
	*ms = out
	return errs
}

// levelList returns the level key of mapping n whose value is a list.
func levelList(n *yaml.Node) (string, *yaml.Node) {
	for _, k := range levelKeys {
		if v := spec.ValueNode(n, k); v != nil {
			for v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			if v.Kind == yaml.SequenceNode {
				return k, v
			}
		}
	}
	return "", nil
}

// withValue returns a copy of mapping n with key's value replaced by v.
func withValue(n *yaml.Node, key string, v *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	c := *n
	c.Content = append([]*yaml.Node(nil), n.Content...)
	for i := 0; i+1 < len(c.Content); i += 2 {
		if c.Content[i].Value == key {
			c.Content[i+1] = v
		}
	}
	return &c
}

// withoutKey returns a copy of mapping n without key.
func withoutKey(n *yaml.Node, key string) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	c := *n
	c.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			c.Content = append(c.Content, n.Content[i], n.Content[i+1])
		}
	}
	return &c
}

// levelName names the mode of one level: the name pattern filled in, or
// "<name or kind>-<value>".
func levelName(m Mode, key, value string) string {
	if pattern := "{" + key + "}"; strings.Contains(m.Name, pattern) {
		return strings.ReplaceAll(m.Name, pattern, value)
	}
	return m.label() + "-" + value
}
