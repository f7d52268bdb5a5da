package spec

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestSubstituteExpandsReferencesAndReportsBadOnesAtTheirNode: a whole
// ${ref} keeps its value's type (a list splices into a list), a partial one
// is text, $$ is a literal $, and every unresolvable reference is an error
// positioned at its node.
func TestSubstituteExpandsReferencesAndReportsBadOnesAtTheirNode(t *testing.T) {
	scope := NewScope(func(k string) (string, bool) {
		if k == "PORT" {
			return "9000", true
		}
		return "", false
	})
	scope.Set("n", node(t, "512"))
	scope.Set("name", node(t, "phi"))
	scope.Set("argv", node(t, "[vllm, serve]"))
	d := &Decoder{File: "f.yaml"}
	for _, tc := range []struct{ in, want, err string }{
		{`x: ${n}`, "x: 512\n", ""},
		{`x: "${n}"`, "x: 512\n", ""}, // whole reference keeps the int type
		{`x: len-${n}`, "x: \"len-512\"\n", ""},
		{`x: ["${argv}", m]`, "x: [vllm, serve, m]\n", ""},
		{`x: ${env.PORT}`, "x: 9000\n", ""},
		{`x: ${env.NOPE:-d}`, "x: d\n", ""},
		{`x: cost $$5`, "x: \"cost $5\"\n", ""},
		{`x: ${nme}`, "", `unknown name ${nme} (did you mean "name"?)`},
		{`x: $HOME/bin`, "", "bare $HOME is not substituted"},
		{`x: ${env.NOPE}`, "", "environment variable NOPE is not set"},
		{`x: a${argv}`, "", "${argv} is a list"},
		{`x: ${n`, "", "unterminated ${"},
	} {
		out, errs := d.Substitute(node(t, tc.in), "", scope)
		if tc.err != "" {
			if len(errs) == 0 || !strings.Contains(errs.Error(), tc.err) {
				t.Errorf("%s: errors %v, want %q", tc.in, errs, tc.err)
			}
			if len(errs) > 0 && errs[0].Pos.Line != 1 {
				t.Errorf("%s: error without position", tc.in)
			}
			continue
		}
		if errs != nil {
			t.Errorf("%s: %v", tc.in, errs)
			continue
		}
		if !flowEqual(out, tc.want) {
			data, _ := yaml.Marshal(out)
			t.Errorf("%s: got %q, want %q", tc.in, data, tc.want)
		}
	}
}

// flowEqual compares by decoded value, for list outputs.
func flowEqual(n *yaml.Node, want string) bool {
	var a, b any
	n.Decode(&a)
	yaml.Unmarshal([]byte(want), &b)
	return yamlString(a) == yamlString(b)
}

func yamlString(v any) string {
	data, _ := yaml.Marshal(v)
	return string(data)
}
