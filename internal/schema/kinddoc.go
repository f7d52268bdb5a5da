package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// Field is one `with:` key of a step kind as `runexp steps KIND` prints it:
// taken from the same struct tags and constructor defaults as the schema
// and the decoder, so the three cannot disagree.
type Field struct {
	Key     string // the YAML key; nested keys as "modes[].kind"
	Type    string // "string", "integer", "duration", "one of: a, b", "list of string", ...
	Default string // the constructor's value, as YAML would write it; "" when none
	Doc     string
}

// KindFields lists the `with:` keys of k in declaration order, each list or
// object's own keys after it.
func KindFields(k steps.Kind) []Field {
	v := reflect.ValueOf(k.New())
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var out []Field
	walkFields(v, "", &out)
	return out
}

func walkFields(v reflect.Value, prefix string, out *[]Field) {
	for _, f := range spec.Fields(v.Type()) {
		fv := v.FieldByIndex(f.Index)
		*out = append(*out, Field{Key: prefix + f.Name, Type: typeName(f.Type), Default: defaultText(fv), Doc: f.Tag.Get("doc")})
		t := f.Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t == durationType:
		case t.Kind() == reflect.Struct:
			if fv.Kind() == reflect.Pointer {
				fv = reflect.New(t).Elem()
			}
			walkFields(fv, prefix+f.Name+".", out)
		case t.Kind() == reflect.Slice && elem(t).Kind() == reflect.Struct:
			walkFields(reflect.New(elem(t)).Elem(), prefix+f.Name+"[].", out)
		}
	}
}

// elem is a slice's element type, pointers removed.
func elem(t reflect.Type) reflect.Type {
	e := t.Elem()
	for e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	return e
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String && t.Implements(enumType) {
		return "one of: " + strings.Join(reflect.Zero(t).Interface().(spec.Enum).Values(), ", ")
	}
	switch t {
	case durationType, timeDuration:
		return "duration"
	}
	switch t.Kind() {
	case reflect.Struct:
		return "object"
	case reflect.Slice:
		if elem(t).Kind() == reflect.Struct {
			return "list of objects"
		}
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "any"
}

// defaultText writes a constructor default as YAML would; a zero value
// (no default) is "".
func defaultText(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Struct:
		return ""
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return ""
		}
		data, err := json.Marshal(v.Interface())
		if err != nil {
			return ""
		}
		return string(data)
	}
	return fmt.Sprint(v.Interface())
}
