package spec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoder is the one strict decoder used for every part of a spec, including
// each step kind's `with:` block. It exists because yaml.v3's KnownFields is
// silently lost inside types with a custom UnmarshalYAML (go-yaml#460): this
// decoder walks the node tree itself, so every unknown key, wrong type and
// bad value is reported at its own line and column, all at once, and never
// panics.
//
// Supported targets: structs (yaml tags; ",inline" embeds; a field `Pos Pos`
// tagged "-" receives the mapping's position and a field `Node *yaml.Node`
// tagged "-" the mapping node itself), pointers, slices, map[string]T,
// time.Duration (written as a Duration), strings (checked against their vocabulary when the type is an Enum),
// integers, floats, bools, yaml.Node (kept raw), any (decoded
// loosely, for pass-through values) and types implementing Unmarshaler.
type Decoder struct {
	File string
}

// Enum is implemented by a string type whose values form a closed
// vocabulary (a step's api, a signal name, an artifact format). Values lists
// them, canonical spelling first-class: the decoder rejects any other value
// at its own key with a did-you-mean, the schema generator emits them as the
// field's "enum", and the docs list them, all from this one list.
type Enum interface {
	Values() []string
}

// EnumMatcher is implemented by an Enum that also accepts spellings outside
// Values (another case, an older alias); Match reports whether s is one.
type EnumMatcher interface {
	Enum
	Match(s string) bool
}

// InEnum reports whether s is a value of e (or, for an EnumMatcher, a
// spelling it accepts).
func InEnum(e Enum, s string) bool {
	if m, ok := e.(EnumMatcher); ok {
		return m.Match(s)
	}
	for _, v := range e.Values() {
		if v == s {
			return true
		}
	}
	return false
}

// NotInEnum is the message for a value outside a vocabulary:
// `"SIGTREM" is not one of SIGHUP, SIGINT, ... (did you mean "SIGTERM"?)`.
func NotInEnum(got string, values []string) string {
	return fmt.Sprintf("%q is not one of %s%s", got, strings.Join(values, ", "), DidYouMean(got, values))
}

// Unmarshaler is implemented by types that decode themselves from a node.
// They report problems through the returned list, positioned with d.Pos.
type Unmarshaler interface {
	UnmarshalSpec(d *Decoder, n *yaml.Node, path string) ErrorList
}

// Pos returns the position of n in the decoder's file.
func (d *Decoder) Pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: d.File}
	}
	return Pos{File: d.File, Line: n.Line, Col: n.Column}
}

// Errorf builds a one-problem list at n.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) ErrorList {
	return ErrorList{{Pos: d.Pos(n), Path: path, Msg: fmt.Sprintf(format, args...)}}
}

// Decode decodes n into v (a non-nil pointer) and returns every problem found.
func (d *Decoder) Decode(n *yaml.Node, path string, v any) ErrorList {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("spec: Decode needs a non-nil pointer") // programmer error
	}
	return d.decode(n, path, rv.Elem())
}

var (
	nodeType         = reflect.TypeFor[yaml.Node]()
	enumType         = reflect.TypeFor[Enum]()
	timeDurationType = reflect.TypeFor[time.Duration]()
	unmarshalerType  = reflect.TypeFor[Unmarshaler]()
	posType          = reflect.TypeFor[Pos]()
)

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

// IsNull reports whether n is absent or an explicit null.
func IsNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!bool":
			return "boolean " + n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "unknown node"
}

func (d *Decoder) decode(n *yaml.Node, path string, v reflect.Value) ErrorList {
	n = resolve(n)
	if n == nil {
		return nil
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		return v.Addr().Interface().(Unmarshaler).UnmarshalSpec(d, n, path)
	}
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(*n))
		return nil
	}
	if v.Type() == timeDurationType {
		// Packages outside spec (load.Mode) keep time.Duration; it is
		// written in a spec as a Duration is.
		var x Duration
		errs := x.UnmarshalSpec(d, n, path)
		if len(errs) == 0 {
			v.SetInt(int64(x))
		}
		return errs
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem() == nodeType {
			v.Set(reflect.ValueOf(n))
			return nil
		}
		if IsNull(n) {
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.decode(n, path, v.Elem())
	case reflect.Struct:
		return d.decodeStruct(n, path, v)
	case reflect.Slice:
		if IsNull(n) {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return d.Errorf(n, path, "expected a list, got %s", kindName(n))
		}
		var errs ErrorList
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			errs = append(errs, d.decode(item, fmt.Sprintf("%s[%d]", path, i), s.Index(i))...)
		}
		v.Set(s)
		return errs
	case reflect.Map:
		if IsNull(n) {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return d.Errorf(n, path, "expected a mapping, got %s", kindName(n))
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("spec: only map[string]T is supported")
		}
		errs := d.duplicateKeys(n, path)
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := resolve(n.Content[i]), n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				errs = append(errs, d.Errorf(k, path, "mapping keys must be strings")...)
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			e := d.decode(val, joinPath(path, k.Value), elem)
			errs = append(errs, e...)
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
		return errs
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			return d.Errorf(n, path, "%v", err)
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.Errorf(n, path, "expected %s, got %s", typeWord(v.Type()), kindName(n))
	}
	return d.decodeScalar(n, path, v)
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return t.String()
}

func (d *Decoder) decodeScalar(n *yaml.Node, path string, v reflect.Value) ErrorList {
	tag := n.ShortTag()
	bad := func() ErrorList {
		return d.Errorf(n, path, "expected %s, got %s", typeWord(v.Type()), kindName(n))
	}
	switch v.Kind() {
	case reflect.String:
		switch tag {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
			// Numbers, booleans and dates keep their literal text:
			// `OLLAMA_NUM_PARALLEL: 4`, `--revision, 2024-05-01`.
			if v.Type().Implements(enumType) {
				e := reflect.New(v.Type()).Elem()
				e.SetString(n.Value)
				if enum := e.Interface().(Enum); !InEnum(enum, n.Value) {
					return d.Errorf(n, path, "%s", NotInEnum(n.Value, enum.Values()))
				}
			}
			v.SetString(n.Value)
		case "!!null":
			v.SetString("")
		default:
			return bad()
		}
	case reflect.Bool:
		if tag != "!!bool" {
			return bad()
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			return bad()
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if tag != "!!int" {
			return bad()
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || v.OverflowInt(i) {
			return d.Errorf(n, path, "integer %s out of range", n.Value)
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if tag != "!!int" {
			return bad()
		}
		i, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || v.OverflowUint(i) {
			return d.Errorf(n, path, "expected a non-negative integer, got %s", n.Value)
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			return bad()
		}
		var x any
		if err := n.Decode(&x); err != nil {
			return bad()
		}
		var f float64
		switch t := x.(type) {
		case int:
			f = float64(t)
		case int64:
			f = float64(t)
		case uint64:
			f = float64(t)
		case float64:
			f = t
		default:
			return bad()
		}
		if math.IsNaN(f) {
			return d.Errorf(n, path, "NaN is not allowed")
		}
		v.SetFloat(f)
	default:
		return d.Errorf(n, path, "unsupported field type %s", v.Type())
	}
	return nil
}

type fieldInfo struct {
	name  string
	index []int
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

// Fields returns the yaml keys of struct type t in declaration order, with
// inline structs flattened. Used by the decoder and the schema generator.
func Fields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for _, f := range fieldsOf(t) {
		sf := t.FieldByIndex(f.index)
		sf.Name = f.name
		sf.Index = f.index
		out = append(out, sf)
	}
	return out
}

func fieldsOf(t reflect.Type) []fieldInfo {
	if c, ok := fieldCache.Load(t); ok {
		return c.([]fieldInfo)
	}
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for _, sub := range fieldsOf(f.Type) {
				out = append(out, fieldInfo{name: sub.name, index: append([]int{i}, sub.index...)})
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, fieldInfo{name: name, index: []int{i}})
	}
	fieldCache.Store(t, out)
	return out
}

func (d *Decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) ErrorList {
	if n.Kind != yaml.MappingNode {
		if IsNull(n) {
			return nil
		}
		return d.Errorf(n, path, "expected a mapping, got %s", kindName(n))
	}
	if f, ok := v.Type().FieldByName("Pos"); ok && f.Type == posType && f.Tag.Get("yaml") == "-" {
		v.FieldByIndex(f.Index).Set(reflect.ValueOf(d.Pos(n)))
	}
	if f, ok := v.Type().FieldByName("Node"); ok && f.Type == reflect.TypeFor[*yaml.Node]() && f.Tag.Get("yaml") == "-" {
		v.FieldByIndex(f.Index).Set(reflect.ValueOf(n))
	}
	fields := fieldsOf(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	errs := d.duplicateKeys(n, path)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		var fi *fieldInfo
		for j := range fields {
			if fields[j].name == k.Value {
				fi = &fields[j]
				break
			}
		}
		if fi == nil {
			errs = append(errs, d.Errorf(k, joinPath(path, k.Value), "unknown field%s (known: %s)",
				DidYouMean(k.Value, names), strings.Join(names, ", "))...)
			continue
		}
		errs = append(errs, d.decode(val, joinPath(path, k.Value), v.FieldByIndex(fi.index))...)
	}
	return errs
}

// duplicateKeys reports every key of mapping n that appeared before (yaml.v3
// does not, when it decodes into nodes).
func (d *Decoder) duplicateKeys(n *yaml.Node, path string) ErrorList {
	var errs ErrorList
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if line, dup := first[k.Value]; dup {
			errs = append(errs, d.Errorf(k, joinPath(path, k.Value), "duplicate key (also on line %d)", line)...)
			continue
		}
		first[k.Value] = k.Line
	}
	return errs
}

// KeyNode returns the key node for key in mapping n, or nil.
func KeyNode(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

// ValueNode returns the value node for key in mapping n, or nil.
func ValueNode(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// FieldNode follows a dotted field path ("server.port", "modes[1].rate")
// through mappings and sequences and returns the deepest node found: the key
// node of the last mapping key, or the item of the last index.
func FieldNode(n *yaml.Node, field string) *yaml.Node {
	cur := resolve(n)
	last := cur
	for _, part := range strings.Split(strings.ReplaceAll(field, "[", ".["), ".") {
		if part == "" || cur == nil {
			continue
		}
		if strings.HasPrefix(part, "[") {
			i, err := strconv.Atoi(strings.Trim(part, "[]"))
			if err != nil || cur.Kind != yaml.SequenceNode || i < 0 || i >= len(cur.Content) {
				return last
			}
			cur = resolve(cur.Content[i])
			last = cur
			continue
		}
		k := KeyNode(cur, part)
		if k == nil {
			return last
		}
		last = k
		cur = resolve(ValueNode(cur, part))
	}
	return last
}

// Duration is a time.Duration written as "90s" or "10m" in a spec, and
// rendered the same way in plans and results.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText renders "1m30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalSpec parses a Go duration string.
func (d *Duration) UnmarshalSpec(dec *Decoder, n *yaml.Node, path string) ErrorList {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		if n.ShortTag() == "!!int" && n.Value == "0" {
			*d = 0
			return nil
		}
		return dec.Errorf(n, path, "expected a duration such as 30s or 10m, got %s", kindName(n))
	}
	x, err := time.ParseDuration(n.Value)
	if err != nil {
		return dec.Errorf(n, path, "invalid duration %q (use a unit: 500ms, 30s, 10m)", n.Value)
	}
	if x < 0 {
		return dec.Errorf(n, path, "duration must not be negative")
	}
	*d = Duration(x)
	return nil
}
