package results

import "strings"

// Outputs declares what a configured step records at a point: names in the
// point's row, and the columns of each table it appends to. A name holding
// "*" is a pattern for names known only at run time ("metrics_*",
// "errors_by_class.*"); everything a step's configuration fixes (mode
// names, record: names, step ids) is spelled out.
type Outputs struct {
	Values []string
	Tables map[string][]string
}

// AddValues declares row names.
func (o *Outputs) AddValues(names ...string) { o.Values = append(o.Values, names...) }

// AddTable declares a table's columns (added to any declared before).
func (o *Outputs) AddTable(table string, columns ...string) {
	if o.Tables == nil {
		o.Tables = map[string][]string{}
	}
	o.Tables[table] = append(o.Tables[table], columns...)
}

// Prefixed returns names with prefix put before each.
func Prefixed(prefix string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// Names is a set of declared names and patterns.
type Names struct {
	exact    map[string]bool
	patterns []string
	list     []string // every exact name, in order of addition, for suggestions
}

// Add declares names; one holding "*" is a pattern.
func (n *Names) Add(names ...string) {
	if n.exact == nil {
		n.exact = map[string]bool{}
	}
	for _, name := range names {
		switch {
		case strings.Contains(name, "*"):
			n.patterns = append(n.patterns, name)
		case !n.exact[name]:
			n.exact[name] = true
			n.list = append(n.list, name)
		}
	}
}

// Has reports whether name is declared or matches a declared pattern.
func (n *Names) Has(name string) bool {
	if n.exact[name] {
		return true
	}
	for _, p := range n.patterns {
		if Match(p, name) {
			return true
		}
	}
	return false
}

// List returns the exact names in order of addition (patterns left out:
// they are no spelling to suggest).
func (n *Names) List() []string { return append([]string(nil), n.list...) }

// Match reports whether name matches pattern, where each "*" stands for one
// or more characters and everything else is literal.
func Match(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	rest := name[len(parts[0]):]
	for i, part := range parts[1:] {
		if len(rest) == 0 {
			return false // "*" stands for at least one character
		}
		last := i == len(parts)-2
		if last {
			return len(rest) > len(part) && strings.HasSuffix(rest, part)
		}
		j := strings.Index(rest[1:], part)
		if j < 0 {
			return false
		}
		rest = rest[1+j+len(part):]
	}
	return true
}
