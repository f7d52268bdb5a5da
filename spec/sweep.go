package spec

import (
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Sweep is an ordered set of axes. Points are the cartesian product in
// declared order (the first axis varies slowest); axes named together in a
// zip group advance together as one dimension placed at its first axis;
// points matching an exclude entry are dropped. With repeat: N (N > 1)
// every point runs N times: the repetitions are an innermost axis called
// repeat (values 1..N), so they are points of their own (their own server,
// folder, row and identity) that follow each other.
//
//	sweep:
//	  axes:
//	    max_model_len: [512, 1024, 2048, 4096]
//	    parallel: [1, 4]
//	  zip: [[a, b]]
//	  exclude: [{max_model_len: 4096, parallel: 4}]
//	  repeat: 3
type Sweep struct {
	Axes    []Axis
	Zip     [][]string
	Exclude []map[string]*yaml.Node
	// Repeat is the sweep's repeat: (0 when not given); when above 1 the
	// last of Axes is the repetition axis (RepeatAxis).
	Repeat int

	Pos Pos

	// keep is --only: per axis, the values a point's value must be one of.
	keep map[string][]*yaml.Node
}

// RepeatAxis names the repetition index of a sweep with repeat: N: the
// last axis, valued 1..N, ${repeat} in steps and a column of every row.
const RepeatAxis = "repeat"

// Axis is one named list of values.
type Axis struct {
	Name   string
	Values []*yaml.Node
	Pos    Pos
}

// UnmarshalSpec decodes a sweep, keeping axis order, and checks zip groups
// and exclude entries against the axes.
func (s *Sweep) UnmarshalSpec(d *Decoder, n *yaml.Node, path string) ErrorList {
	var raw struct {
		Axes    *yaml.Node              `yaml:"axes"`
		Zip     [][]string              `yaml:"zip"`
		Exclude []map[string]*yaml.Node `yaml:"exclude"`
		Repeat  *yaml.Node              `yaml:"repeat"`
	}
	errs := d.Decode(n, path, &raw)
	s.Pos = d.Pos(n)
	repeat, repeatErrs := decodeRepeat(d, raw.Repeat, path+".repeat")
	errs = append(errs, repeatErrs...)
	axes := resolve(raw.Axes)
	if raw.Repeat != nil && axes == nil {
		axes = &yaml.Node{Kind: yaml.MappingNode} // repeat alone: the one point, N times
	} else if axes == nil || axes.Kind != yaml.MappingNode || len(axes.Content) == 0 {
		errs = append(errs, d.Errorf(n, path+".axes", "a sweep needs at least one axis: axes: {name: [values...]} (or repeat: N alone)")...)
		return errs
	}
	errs = append(errs, d.duplicateKeys(axes, path+".axes")...)
	index := map[string]int{}
	for i := 0; i+1 < len(axes.Content); i += 2 {
		k, v := resolve(axes.Content[i]), resolve(axes.Content[i+1])
		ap := path + ".axes." + k.Value
		if _, dup := index[k.Value]; dup {
			continue // reported by duplicateKeys
		}
		if !idPattern.MatchString(k.Value) || strings.Contains(k.Value, "-") {
			errs = append(errs, d.Errorf(k, ap, "axis names use letters, digits and _ and start with a letter")...)
			continue
		}
		if reservedRoot(k.Value) {
			errs = append(errs, d.Errorf(k, ap, "%q is reserved for ${%s.…} references", k.Value, k.Value)...)
			continue
		}
		if k.Value == RepeatAxis {
			errs = append(errs, d.Errorf(k, ap, "%q is the repetition index: write repeat: N beside axes to run every point N times", k.Value)...)
			continue
		}
		if v.Kind != yaml.SequenceNode {
			errs = append(errs, d.Errorf(v, ap, "expected a list of values, got %s", kindName(v))...)
			continue
		}
		if len(v.Content) == 0 {
			errs = append(errs, d.Errorf(v, ap, "empty axis: give at least one value")...)
			continue
		}
		ax := Axis{Name: k.Value, Pos: d.Pos(k)}
		seen := map[string]bool{}
		for j, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode || IsNull(item) {
				errs = append(errs, d.Errorf(item, fmt.Sprintf("%s[%d]", ap, j), "axis values must be scalars")...)
				continue
			}
			if seen[valueKey(item)] {
				errs = append(errs, d.Errorf(item, fmt.Sprintf("%s[%d]", ap, j), "duplicate value %s", item.Value)...)
			}
			seen[valueKey(item)] = true
			ax.Values = append(ax.Values, item)
		}
		index[ax.Name] = len(s.Axes)
		s.Axes = append(s.Axes, ax)
	}
	s.Repeat = repeat
	if repeat > 1 {
		ax := Axis{Name: RepeatAxis, Pos: d.Pos(raw.Repeat)}
		for i := 1; i <= repeat; i++ {
			ax.Values = append(ax.Values, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)})
		}
		index[ax.Name] = len(s.Axes)
		s.Axes = append(s.Axes, ax)
	}
	zipNode := resolve(ValueNode(n, "zip"))
	inZip := map[string]bool{}
	for gi, group := range raw.Zip {
		gp := fmt.Sprintf("%s.zip[%d]", path, gi)
		gpos := zipNode
		if zipNode != nil && gi < len(zipNode.Content) {
			gpos = zipNode.Content[gi]
		}
		if len(group) < 2 {
			errs = append(errs, d.Errorf(gpos, gp, "a zip group names at least two axes")...)
			continue
		}
		length := -1
		for k, name := range group {
			// Each problem at the axis name it is about.
			npos, np := gpos, fmt.Sprintf("%s[%d]", gp, k)
			if g := resolve(gpos); g != nil && g.Kind == yaml.SequenceNode && k < len(g.Content) {
				npos = g.Content[k]
			}
			i, ok := index[name]
			switch {
			case !ok:
				errs = append(errs, d.Errorf(npos, np, "unknown axis %q%s", name, DidYouMean(name, keys(index)))...)
			case inZip[name]:
				errs = append(errs, d.Errorf(npos, np, "axis %q is in more than one zip group", name)...)
			case length >= 0 && len(s.Axes[i].Values) != length:
				errs = append(errs, d.Errorf(npos, np, "zipped axes must have equal lengths (%s has %d values, expected %d)", name, len(s.Axes[i].Values), length)...)
			default:
				length = len(s.Axes[i].Values)
			}
			inZip[name] = true
		}
	}
	s.Zip = raw.Zip
	exNode := resolve(ValueNode(n, "exclude"))
	for ei, ex := range raw.Exclude {
		ep := fmt.Sprintf("%s.exclude[%d]", path, ei)
		if len(ex) == 0 && exNode != nil && ei < len(exNode.Content) {
			errs = append(errs, d.Errorf(exNode.Content[ei], ep, "empty entry: name the axis values of the points to drop, e.g. {max_model_len: 4096}")...)
		}
		for name, val := range ex {
			i, ok := index[name]
			if !ok {
				pos := exNode
				if exNode != nil && ei < len(exNode.Content) {
					pos = FieldNode(exNode.Content[ei], name)
				}
				errs = append(errs, d.Errorf(pos, ep+"."+name, "unknown axis %q%s", name, DidYouMean(name, keys(index)))...)
				continue
			}
			found := false
			for _, v := range s.Axes[i].Values {
				found = found || sameValue(v, resolve(val))
			}
			if !found {
				errs = append(errs, d.Errorf(val, ep+"."+name, "value %s is not on axis %s, so this entry excludes nothing", resolve(val).Value, name)...)
			}
		}
	}
	s.Exclude = raw.Exclude
	return errs
}

// maxRepeat bounds repeat: a typo such as 1000000 is refused at its key
// rather than counted against max_points with a less helpful message.
const maxRepeat = 10000

// decodeRepeat checks a sweep's repeat: an integer from 1 to maxRepeat; 0
// when not given, 1 when wrong (so that ${repeat} is no second problem).
func decodeRepeat(d *Decoder, n *yaml.Node, path string) (int, ErrorList) {
	n = resolve(n)
	if n == nil {
		return 0, nil
	}
	r, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || r < 1 || r > maxRepeat {
		return 1, d.Errorf(n, path, "want a whole number of repetitions from 1 to %d, got %s", maxRepeat, nodeText(n))
	}
	return r, nil
}

// nodeText is a node's value for a message: a scalar's text, else its kind.
func nodeText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

// Point is one element of an expanded sweep.
type Point struct {
	Index  int         // ordinal in the full product (before exclusion): stable for a given sweep
	Values []AxisValue // one per axis, in axis order
}

// AxisValue is one axis' value at a point.
type AxisValue struct {
	Name  string
	Value *yaml.Node
}

// ID is the point's stable id, e.g. "002".
func (p Point) ID() string { return fmt.Sprintf("%03d", p.Index) }

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Slug is a filesystem-safe name, e.g. "002_max_model_len-2048".
func (p Point) Slug() string {
	var b strings.Builder
	b.WriteString(p.ID())
	for _, v := range p.Values {
		b.WriteString("_")
		b.WriteString(unsafeChars.ReplaceAllString(v.Name+"-"+v.Value.Value, "_"))
	}
	s := b.String()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// Label is "max_model_len=2048 parallel=4", or "" for a point without axes.
func (p Point) Label() string {
	parts := make([]string, len(p.Values))
	for i, v := range p.Values {
		parts[i] = v.Name + "=" + v.Value.Value
	}
	return strings.Join(parts, " ")
}

// Expand returns the points of the sweep; a nil sweep has one point. It
// holds every point in memory: callers bound the sweep with Count first.
func (s *Sweep) Expand() []Point {
	var out []Point
	s.Each(func(p Point) bool {
		out = append(out, p)
		return true
	})
	return out
}

// Each calls yield with every point of the sweep in order, one at a time, so
// that a huge sweep can be walked without holding its points; it stops when
// yield returns false. A nil sweep has one point.
func (s *Sweep) Each(yield func(Point) bool) {
	if s == nil || len(s.Axes) == 0 {
		yield(Point{})
		return
	}
	dims := s.dims()
	total, ok := s.product(dims)
	if !ok {
		total = math.MaxInt // unreachable in practice: callers cap with Count first
	}
	pos := make([]int, len(s.Axes))
	for idx := 0; idx < total; idx++ {
		rem := idx
		for di := len(dims) - 1; di >= 0; di-- {
			n := dims[di].len
			for _, ai := range dims[di].axes {
				pos[ai] = rem % n
			}
			rem /= n
		}
		p := Point{Index: idx, Values: make([]AxisValue, len(s.Axes))}
		for ai, a := range s.Axes {
			p.Values[ai] = AxisValue{Name: a.Name, Value: a.Values[pos[ai]]}
		}
		if !s.excluded(p) && !yield(p) {
			return
		}
	}
}

// dim is one dimension of the product: a plain axis, or a zip group placed
// at its first axis.
type dim struct {
	axes []int // indexes into Sweep.Axes
	len  int   // a zip group advances as far as its shortest axis
}

func (s *Sweep) dims() []dim {
	groupOf := map[string]int{}
	for gi, g := range s.Zip {
		for _, name := range g {
			groupOf[name] = gi
		}
	}
	var dims []dim
	placed := map[int]bool{}
	for i, a := range s.Axes {
		gi, zipped := groupOf[a.Name]
		if !zipped {
			dims = append(dims, dim{axes: []int{i}})
			continue
		}
		if placed[gi] {
			continue
		}
		placed[gi] = true
		var d dim
		for _, name := range s.Zip[gi] {
			for j, b := range s.Axes {
				if b.Name == name {
					d.axes = append(d.axes, j)
				}
			}
		}
		dims = append(dims, d)
	}
	// Unequal zip lengths are reported by UnmarshalSpec; the shortest keeps
	// the walk safe regardless.
	for i := range dims {
		d := &dims[i]
		d.len = len(s.Axes[d.axes[0]].Values)
		for _, ai := range d.axes {
			d.len = min(d.len, len(s.Axes[ai].Values))
		}
	}
	return dims
}

// product multiplies the dimensions' lengths; ok is false on overflow.
func (s *Sweep) product(dims []dim) (n int, ok bool) {
	n = 1
	for _, d := range dims {
		if d.len != 0 && n > math.MaxInt/d.len {
			return 0, false
		}
		n *= d.len
	}
	return n, true
}

// Count returns the number of points the sweep has (the product over axes and
// zip groups, minus the excluded points) without expanding it. ok is false
// when the count does not fit an int. Excludes are counted by
// inclusion–exclusion over the entries; with more entries than that can
// afford, the points are walked (without being kept).
func (s *Sweep) Count() (n int, ok bool) {
	if s == nil || len(s.Axes) == 0 {
		return 1, true
	}
	dims := s.dims()
	total, ok := s.product(dims)
	if !ok {
		return 0, false
	}
	if len(s.keep) > 0 {
		if len(s.Exclude) == 0 {
			return s.positions(dims, func(a Axis, v *yaml.Node) bool { return s.keeps(a.Name, v) }), true
		}
		// --only with excludes: walk the product, as for many excludes
		s.Each(func(Point) bool { n++; return true })
		return n, true
	}
	if len(s.Exclude) == 0 {
		return total, true
	}
	if len(s.Exclude) > maxInclusionExclusion {
		s.Each(func(Point) bool { n++; return true })
		return n, true
	}
	excluded := 0
	for subset := 1; subset < 1<<len(s.Exclude); subset++ {
		var entries []map[string]*yaml.Node
		for i := range s.Exclude {
			if subset&(1<<i) != 0 {
				entries = append(entries, s.Exclude[i])
			}
		}
		m := s.matching(dims, entries)
		if bits.OnesCount(uint(subset))%2 == 1 {
			excluded += m
		} else {
			excluded -= m
		}
	}
	return total - excluded, true
}

// keeps reports whether --only keeps value v of the axis called name.
func (s *Sweep) keeps(name string, v *yaml.Node) bool {
	want, ok := s.keep[name]
	return !ok || slices.ContainsFunc(want, func(w *yaml.Node) bool { return sameValue(v, w) })
}

// positions counts the points of dims whose every axis value passes ok: the
// product, over the dimensions, of the positions where it holds.
func (s *Sweep) positions(dims []dim, ok func(a Axis, v *yaml.Node) bool) int {
	n := 1
	for _, d := range dims {
		hits := 0
	position:
		for i := 0; i < d.len; i++ {
			for _, ai := range d.axes {
				if a := s.Axes[ai]; !ok(a, a.Values[i]) {
					continue position
				}
			}
			hits++
		}
		n *= hits
	}
	return n
}

// HasAxis reports whether the sweep has an axis called name.
func (s *Sweep) HasAxis(name string) bool {
	return s != nil && slices.ContainsFunc(s.Axes, func(a Axis) bool { return a.Name == name })
}

// ReplaceAxis sets the values of axis name (--set AXIS=[v1, v2]). An axis
// zipped with others keeps their length.
func (s *Sweep) ReplaceAxis(name string, values []*yaml.Node) error {
	i := slices.IndexFunc(s.Axes, func(a Axis) bool { return a.Name == name })
	if i < 0 {
		return fmt.Errorf("--set %s: no such axis", name)
	}
	if len(values) == 0 {
		return fmt.Errorf("--set %s=[]: an axis needs at least one value", name)
	}
	seen := map[string]bool{}
	for _, v := range values {
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("--set %s: axis values must be scalars", name)
		}
		if seen[valueKey(v)] {
			return fmt.Errorf("--set %s: duplicate value %s", name, v.Value)
		}
		seen[valueKey(v)] = true
	}
	for _, g := range s.Zip {
		if slices.Contains(g, name) && len(values) != len(s.Axes[i].Values) {
			return fmt.Errorf("--set %s: the axis is zipped with %s, so it needs %d values, got %d",
				name, strings.Join(slices.DeleteFunc(slices.Clone(g), func(n string) bool { return n == name }), ", "), len(s.Axes[i].Values), len(values))
		}
	}
	s.Axes[i].Values = values
	return nil
}

// Keep restricts the sweep to the points whose axis name has value (--only
// AXIS=VALUE); kept values of one axis add up, kept axes must all match.
// Points keep the ids they have in the whole sweep, so a partial run's
// folders are named as the full run's.
func (s *Sweep) Keep(name, value string) error {
	i := slices.IndexFunc(s.Axes, func(a Axis) bool { return a.Name == name })
	if i < 0 {
		return fmt.Errorf("--only %s: no such axis", name)
	}
	want := &yaml.Node{Kind: yaml.ScalarNode, Value: value}
	if !slices.ContainsFunc(s.Axes[i].Values, func(v *yaml.Node) bool { return sameValue(v, want) }) {
		values := make([]string, len(s.Axes[i].Values))
		for j, v := range s.Axes[i].Values {
			values[j] = v.Value
		}
		return fmt.Errorf("--only %s=%s: the axis has no such value (values: %s)", name, value, strings.Join(values, ", "))
	}
	if s.keep == nil {
		s.keep = map[string][]*yaml.Node{}
	}
	s.keep[name] = append(s.keep[name], want)
	return nil
}

// maxInclusionExclusion bounds the exclude entries counted by
// inclusion–exclusion (2^n subsets).
const maxInclusionExclusion = 12

// matching counts the points that match every one of the exclude entries
// (an empty entry, or one naming an unknown axis, matches nothing, as in
// excluded).
func (s *Sweep) matching(dims []dim, entries []map[string]*yaml.Node) int {
	want := map[string][]*yaml.Node{} // axis -> values it must equal
	for _, ex := range entries {
		if len(ex) == 0 {
			return 0
		}
		for name, v := range ex {
			want[name] = append(want[name], resolve(v))
		}
	}
	onAxis := map[string]bool{}
	for _, a := range s.Axes {
		onAxis[a.Name] = true
	}
	for name := range want {
		if !onAxis[name] {
			return 0
		}
	}
	return s.positions(dims, func(a Axis, v *yaml.Node) bool {
		for _, w := range want[a.Name] {
			if !sameValue(v, w) {
				return false
			}
		}
		return true
	})
}

func (s *Sweep) excluded(p Point) bool {
	for _, v := range p.Values {
		if !s.keeps(v.Name, v.Value) {
			return true
		}
	}
	for _, ex := range s.Exclude {
		match := len(ex) > 0
		for name, val := range ex {
			hit := false
			for _, v := range p.Values {
				if v.Name == name && sameValue(v.Value, resolve(val)) {
					hit = true
				}
			}
			match = match && hit
		}
		if match {
			return true
		}
	}
	return false
}

// valueKey identifies a scalar by value: numbers by their number, so 0.9
// and 0.90 (or 1 and 1.0) are the same point; integers beyond float64's
// exact range by their integer; anything else by its text.
func valueKey(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			if i > 1<<53 || i < -(1<<53) {
				return "int:" + strconv.FormatInt(i, 10)
			}
			return "num:" + strconv.FormatFloat(float64(i), 'g', -1, 64)
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			return "num:" + strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	return "str:" + n.Value
}

// sameValue matches an exclude value to an axis value: the same text
// (so a quoted "8" still matches 8), or the same number.
func sameValue(a, b *yaml.Node) bool { return a.Value == b.Value || valueKey(a) == valueKey(b) }
