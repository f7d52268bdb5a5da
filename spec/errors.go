package spec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a spec file. Line and Col are 1-based; zero means unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one positioned problem in a spec. It renders as
// "file:line:col: path: message", the form editors make clickable.
type Error struct {
	Pos  Pos
	Path string // e.g. "studies[0].steps[2].with.timeout"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a spec, sorted by position.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see every problem.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Err returns nil for an empty list, else the sorted list.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Sort orders problems by file, line, column and drops exact duplicates
// (the same problem found at every sweep point is reported once).
func (l *ErrorList) Sort() {
	s := *l
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i].Pos, s[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := s[:0]
	seen := map[string]bool{}
	for _, e := range s {
		k := e.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	*l = out
}

// Add appends a problem.
func (l *ErrorList) Add(pos Pos, path, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Merge appends the problems of err: an ErrorList or *Error is taken apart;
// any other error is added at pos.
func (l *ErrorList) Merge(pos Pos, path string, err error) {
	if err == nil {
		return
	}
	var list ErrorList
	if errors.As(err, &list) {
		*l = append(*l, list...)
		return
	}
	var one *Error
	if errors.As(err, &one) {
		*l = append(*l, one)
		return
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		*l = append(*l, &Error{Pos: pos, Path: joinPath(path, fe.Field), Msg: fe.Msg})
		return
	}
	l.Add(pos, path, "%v", err)
}

// FieldError is returned by a step config's Validate to name the offending
// field (its yaml key, dotted for nested keys); the planner turns it into a
// positioned Error at that key.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// FieldErrorf builds a FieldError.
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func joinPath(base, field string) string {
	switch {
	case base == "":
		return field
	case field == "":
		return base
	case strings.HasPrefix(field, "["):
		return base + field
	}
	return base + "." + field
}

// DidYouMean returns ` (did you mean "x"?)` for the closest candidate within a
// small edit distance, or "".
func DidYouMean(got string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := editDistance(strings.ToLower(got), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(got) > 8 {
		limit = 3
	}
	if best != "" && bestD <= limit {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	// Optimal string alignment distance: insertions, deletions, substitutions
	// and adjacent transpositions ("timout" is one edit from "timeout").
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
