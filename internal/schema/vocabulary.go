package schema

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// Vocabulary is one spec key whose values form a closed list.
type Vocabulary struct {
	Where  string   // "top level", "artifacts", or a step kind
	Key    string   // the key, with [] for list items: modes[].kind
	Values []string // from the type's spec.Enum Values
}

// Vocabularies lists every closed-vocabulary key of a spec, from the same
// Go types (and Values lists) the decoder checks and the schema's enums
// come from, in declaration order.
func Vocabularies(reg *steps.Registry) []Vocabulary {
	var out []Vocabulary
	collect := func(where string, t reflect.Type) {
		walkEnums(t, "", func(key string, e spec.Enum) {
			out = append(out, Vocabulary{Where: where, Key: key, Values: e.Values()})
		})
	}
	collect("top level", reflect.TypeFor[spec.Experiment]())
	collect("artifacts", reflect.TypeFor[spec.Artifact]())
	for _, k := range reg.Kinds() {
		collect(k.Name, reflect.TypeOf(k.New()))
	}
	return out
}

// VocabularyMarkdown renders Vocabularies as the table README.md carries.
func VocabularyMarkdown(reg *steps.Registry) string {
	var b strings.Builder
	b.WriteString("| where | key | values |\n|---|---|---|\n")
	for _, v := range Vocabularies(reg) {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", v.Where, v.Key, "`"+strings.Join(v.Values, "`, `")+"`")
	}
	return b.String()
}

func walkEnums(t reflect.Type, prefix string, visit func(key string, e spec.Enum)) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() == reflect.String && t.Implements(enumType) {
		visit(prefix, reflect.Zero(t).Interface().(spec.Enum))
		return
	}
	// yaml.Node is recursive; a raw study's parts are listed separately
	// (artifacts) or per step kind.
	if t.Kind() != reflect.Struct || t == durationType || t == reflect.TypeFor[yaml.Node]() || t == rawStudyType {
		return
	}
	for _, f := range spec.Fields(t) {
		key := f.Name
		if prefix != "" {
			key = prefix + "." + f.Name
		}
		walkEnums(f.Type, key, visit)
	}
}
