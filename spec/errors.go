package spec

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
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
// a *FieldError, or a go-multierror or errors.Join of them, becomes one
// problem per field under path; any other error is added at pos.
func (l *ErrorList) Merge(pos Pos, path string, err error) {
	l.MergeFields(pos, path, err, func(string) Pos { return pos })
}

// MergeFields is Merge with each *FieldError positioned by at(field), so that
// every problem a Validate method reports lands at its own key.
func (l *ErrorList) MergeFields(pos Pos, path string, err error, at func(field string) Pos) {
	for _, e := range SplitErrors(err) {
		var list ErrorList
		var one *Error
		var fe *FieldError
		switch {
		case errors.As(e, &list):
			*l = append(*l, list...)
		case errors.As(e, &one):
			*l = append(*l, one)
		case errors.As(e, &fe):
			*l = append(*l, &Error{Pos: at(fe.Field), Path: joinPath(path, fe.Field), Msg: fe.Msg})
		default:
			l.Add(pos, path, "%v", e)
		}
	}
}

// SplitErrors flattens a go-multierror or an errors.Join into its problems;
// any other error (nil excepted) is one problem.
func SplitErrors(err error) []error {
	if err == nil {
		return nil
	}
	var merr *multierror.Error
	if errors.As(err, &merr) {
		var out []error
		for _, e := range merr.Errors {
			out = append(out, SplitErrors(e)...)
		}
		return out
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var list ErrorList
		if errors.As(err, &list) {
			return []error{list} // already positioned; Merge takes it apart
		}
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, SplitErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// FieldError is one problem in a configuration block, named by its field:
// the yaml key, dotted and indexed for nested keys ("modes[1].rate"). A
// step's Validate returns them (several at once through Problems); the
// planner turns each into a positioned Error at that key.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Problems collects every problem of one configuration block, so Validate
// reports them all at once rather than the first. The zero value is ready.
type Problems struct {
	errs *multierror.Error
}

// Add records a problem at field.
func (p *Problems) Add(field, format string, args ...any) {
	p.errs = multierror.Append(p.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Nest records the problems of a nested block's Validate under prefix:
// a FieldError's field becomes prefix.field; any other error is a problem
// at prefix.
func (p *Problems) Nest(prefix string, err error) {
	for _, e := range SplitErrors(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			p.errs = multierror.Append(p.errs, &FieldError{Field: joinPath(prefix, fe.Field), Msg: fe.Msg})
			continue
		}
		p.errs = multierror.Append(p.errs, &FieldError{Field: prefix, Msg: e.Error()})
	}
}

// Err returns nil when nothing was recorded, else a go-multierror whose
// message is one problem per line.
func (p *Problems) Err() error {
	if p.errs == nil {
		return nil
	}
	p.errs.ErrorFormat = lines
	return p.errs.ErrorOrNil()
}

func lines(errs []error) string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return strings.Join(out, "\n")
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
