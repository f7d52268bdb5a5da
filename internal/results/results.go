// Package results owns runexp's result model: the named values a point
// records (Values), the rows steps append to named tables, and the two rules
// every writer of results shares: names are listed in a stable order
// (SortedKeys), and a number JSON cannot hold (NaN, ±Inf) is written as no
// value (Finite).
//
// Contract: steps produce results through this model and know nothing of
// artifacts; the runner flattens them into Rows; encoders (internal/artifact)
// write Rows. Values is not safe for concurrent use; its owner locks.
package results

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Values is an ordered set of named values (one result row), in the order
// the names were first set.
type Values struct {
	keys []string
	m    map[string]any
}

// Set sets name, keeping first-set order.
func (v *Values) Set(name string, x any) {
	if v.m == nil {
		v.m = map[string]any{}
	}
	if _, ok := v.m[name]; !ok {
		v.keys = append(v.keys, name)
	}
	v.m[name] = x
}

// Get returns a value.
func (v Values) Get(name string) (any, bool) {
	x, ok := v.m[name]
	return x, ok
}

// Keys returns the names in order.
func (v Values) Keys() []string { return append([]string(nil), v.keys...) }

// Len is the number of values.
func (v Values) Len() int { return len(v.keys) }

// Map returns a plain map copy.
func (v Values) Map() map[string]any {
	out := make(map[string]any, len(v.m))
	for k, x := range v.m {
		out[k] = x
	}
	return out
}

// Clone copies v.
func (v Values) Clone() Values {
	return Values{keys: append([]string(nil), v.keys...), m: v.Map()}
}

// SortedKeys returns the names sorted.
func (v Values) SortedKeys() []string {
	k := v.Keys()
	slices.Sort(k)
	return k
}

// MarshalJSON writes the values as an object in key order; NaN and ±Inf
// are written as null (Finite).
func (v Values) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range v.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		xb, err := json.Marshal(Finite(v.m[k]))
		if err != nil {
			return nil, fmt.Errorf("value %s: %w", k, err)
		}
		b.Write(xb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// Row is one flattened result row as artifacts see it: a point (its id,
// sweep values, recorded values and outcome) or one row of a table.
type Row = map[string]any

// Finite maps NaN and ±Inf (which JSON cannot hold) to nil, so one odd
// reading cannot make a study's JSON artifacts unwritable.
func Finite(v any) any {
	switch f := v.(type) {
	case float64:
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil
		}
	}
	return v
}

// SortedKeys returns a map's keys sorted: the one deterministic order for
// names that come from a map.
func SortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
