// Package schema generates the JSON Schema of runexp spec files from the Go
// types in package spec and the configuration types of the registered step
// kinds, so the schema cannot drift from what the decoder accepts: a string
// type implementing spec.Enum becomes an "enum" of its values. The committed
// copy is schemas/runexp.schema.json; a test there fails when it is stale
// (regenerate with `runexp schema > schemas/runexp.schema.json`).
package schema

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

type obj = map[string]any

var (
	durationType = reflect.TypeFor[spec.Duration]()
	portType     = reflect.TypeFor[steps.Port]()
	timeDuration = reflect.TypeFor[time.Duration]()
	enumType     = reflect.TypeFor[spec.Enum]()
	varsType     = reflect.TypeFor[spec.Vars]()
	sweepType    = reflect.TypeFor[spec.Sweep]()
	rawStudyType = reflect.TypeFor[spec.RawStudy]()
	studyType    = reflect.TypeFor[spec.Study]()
	stepType     = reflect.TypeFor[spec.Step]()
)

// ref is a string that is a ${...} reference; any typed field may hold one,
// since substitution happens before decoding.
var ref = obj{"type": "string", "pattern": `\$\{[^}]+\}`}

// Generate returns the schema as indented JSON.
func Generate(reg *steps.Registry) ([]byte, error) {
	g := &gen{reg: reg}
	root := g.typ(reflect.TypeFor[spec.Experiment]())
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["$id"] = "https://runexp.dev/schemas/runexp.schema.json"
	root["title"] = "runexp experiment (" + spec.Version + ")"
	root["required"] = []string{"version", "name", "studies"}
	data, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

type gen struct{ reg *steps.Registry }

func (g *gen) typ(t reflect.Type) obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String && t.Implements(enumType) {
		// A closed vocabulary: its values, or a ${...} reference (substituted
		// before the decoder checks the value).
		values := reflect.Zero(t).Interface().(spec.Enum).Values()
		return obj{"type": "string", "anyOf": []any{obj{"enum": values}, obj{"pattern": ref["pattern"]}}}
	}
	switch t {
	case durationType, timeDuration:
		return obj{"anyOf": []any{obj{"type": "string", "pattern": `^([0-9.]+(ns|us|µs|ms|s|m|h))+$|^0$|\$\{`}, obj{"type": "integer", "const": 0}},
			"description": "a duration such as 500ms, 30s, 10m"}
	case portType:
		return obj{"anyOf": []any{obj{"type": "integer", "minimum": 0, "maximum": 65535}, obj{"const": "auto"}, ref},
			"description": "a port number, or auto for a free port chosen at launch"}
	case varsType:
		scalar := obj{"type": []string{"string", "number", "integer", "boolean"}}
		value := obj{"oneOf": []any{scalar, obj{"type": "array", "items": scalar}}}
		sel := obj{"type": "object", "additionalProperties": false, "required": []string{"select", "cases"},
			"properties": obj{"select": obj{"type": "string", "description": "the earlier var whose value picks a case"},
				"cases": obj{"type": "object", "additionalProperties": value}}}
		return obj{"type": "object", "additionalProperties": obj{"oneOf": []any{scalar, obj{"type": "array", "items": scalar}, sel}}}
	case sweepType:
		scalar := obj{"type": []string{"string", "number", "integer", "boolean"}}
		return obj{"type": "object", "additionalProperties": false, "anyOf": []any{obj{"required": []string{"axes"}}, obj{"required": []string{"repeat"}}},
			"properties": obj{
				"repeat":  obj{"anyOf": []any{obj{"type": "integer", "minimum": 1, "maximum": 10000}, ref}, "description": "run every point N times, each repetition its own point (server, folder, row) with ${repeat} = 1..N; artifacts with aggregate: repeat fold them into mean and 95 % CI"},
				"axes":    obj{"type": "object", "minProperties": 1, "description": "axis name: list of values; cartesian product in declared order", "additionalProperties": obj{"type": "array", "minItems": 1, "items": scalar}},
				"zip":     obj{"type": "array", "description": "groups of axes whose values advance together", "items": obj{"type": "array", "minItems": 2, "items": obj{"type": "string"}}},
				"exclude": obj{"type": "array", "description": "points to drop: axis: value entries", "items": obj{"type": "object", "additionalProperties": scalar}},
			}}
	case rawStudyType:
		return g.typ(studyType)
	case stepType:
		return g.step()
	}
	switch t.Kind() {
	case reflect.Struct:
		props := obj{}
		for _, f := range spec.Fields(t) {
			s := g.typ(f.Type)
			if f.Tag.Get("list") == "expand" {
				// A list of values expands into one item per value (load.Modes).
				s = obj{"anyOf": []any{s, obj{"type": "array", "minItems": 1, "items": g.typ(f.Type)}}}
			}
			if d := f.Tag.Get("doc"); d != "" {
				s["description"] = d
			}
			props[f.Name] = s
		}
		return obj{"type": "object", "additionalProperties": false, "properties": props}
	case reflect.Slice:
		return obj{"type": "array", "items": g.typ(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": g.typ(t.Elem())}
	case reflect.String:
		// The decoder takes numbers and booleans as their text (`--port, 8000`).
		return obj{"type": []string{"string", "number", "integer", "boolean"}}
	case reflect.Bool:
		return obj{"anyOf": []any{obj{"type": "boolean"}, ref}}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"anyOf": []any{obj{"type": "integer"}, ref}}
	case reflect.Float32, reflect.Float64:
		return obj{"anyOf": []any{obj{"type": "number"}, ref}}
	}
	return obj{}
}

// step is a oneOf over kinds, each selecting its `with` schema by `type`.
func (g *gen) step() obj {
	common := func() obj {
		return obj{
			"id":      obj{"type": "string", "description": "unique step id within the study (defaults to the type when used once)"},
			"needs":   obj{"type": "array", "items": obj{"type": "string"}, "description": "ids of earlier steps that must succeed first"},
			"always":  obj{"anyOf": []any{obj{"type": "boolean"}, ref}, "description": "run even if a needed step failed or the run is interrupted"},
			"timeout": g.typ(durationType),
		}
	}
	var variants []any
	for _, k := range g.reg.Kinds() {
		props := common()
		props["type"] = obj{"const": k.Name, "description": k.Doc}
		with := g.typ(reflect.TypeOf(k.New()))
		with["description"] = k.Doc
		props["with"] = with
		variants = append(variants, obj{"type": "object", "additionalProperties": false, "required": []string{"type"}, "properties": props})
	}
	return obj{"oneOf": variants, "description": "a step; its type selects the schema of with (kinds: " + strings.Join(g.reg.Names(), ", ") + ")"}
}
