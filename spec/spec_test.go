package spec

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestSweepExpand(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // labels
		ids       []string
	}{
		{"one axis", `axes: {n: [1, 2, 3]}`, []string{"n=1", "n=2", "n=3"}, []string{"000", "001", "002"}},
		{"product, first slowest", `axes: {a: [x, y], b: [1, 2]}`, []string{"a=x b=1", "a=x b=2", "a=y b=1", "a=y b=2"}, nil},
		{"zip advances together", `{axes: {ctx: [512, 1024], mem: [1, 2], p: [1, 4]}, zip: [[ctx, mem]]}`,
			[]string{"ctx=512 mem=1 p=1", "ctx=512 mem=1 p=4", "ctx=1024 mem=2 p=1", "ctx=1024 mem=2 p=4"}, nil},
		{"exclude keeps stable ids", `{axes: {a: [x, y], b: [1, 2]}, exclude: [{a: x, b: 2}]}`,
			[]string{"a=x b=1", "a=y b=1", "a=y b=2"}, []string{"000", "002", "003"}},
		{"exclude matches numbers by value", `{axes: {u: [0.9, 1]}, exclude: [{u: 1.0}, {u: 0.90}]}`, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Decoder{File: "f.yaml"}
			var s Sweep
			if errs := d.Decode(node(t, tc.src), "sweep", &s); errs != nil {
				t.Fatal(errs)
			}
			pts := s.Expand()
			var got, ids []string
			for _, p := range pts {
				got = append(got, p.Label())
				ids = append(ids, p.ID())
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.ids != nil && strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
				t.Errorf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
}

func TestSlugIsFilesystemSafe(t *testing.T) {
	p := Point{Index: 7, Values: []AxisValue{{"model", &yaml.Node{Kind: yaml.ScalarNode, Value: "microsoft/Phi-3 mini"}}}}
	if got := p.Slug(); got != "007_model-microsoft_Phi-3_mini" {
		t.Errorf("slug %q", got)
	}
}

func TestSubstitute(t *testing.T) {
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

func TestDecoderStrict(t *testing.T) {
	type inner struct {
		Name  string   `yaml:"name"`
		Count int      `yaml:"count"`
		Rate  float64  `yaml:"rate"`
		On    bool     `yaml:"on"`
		Wait  Duration `yaml:"wait"`
		Tags  []string `yaml:"tags"`
	}
	type outer struct {
		Inner inner            `yaml:"inner"`
		Map   map[string]inner `yaml:"map"`
		Any   any              `yaml:"any"`
	}
	src := `inner: {name: a, count: x, rate: 1, on: yes, wait: 5, tags: b, extra: 1}
map: {k: {nmae: z}}
any: {free: [1, 2]}
`
	var o outer
	errs := (&Decoder{File: "f.yaml"}).Decode(node(t, src), "", &o)
	want := []string{
		`f.yaml:1:25: inner.count: expected an integer, got "x"`,
		`f.yaml:1:41: inner.on: expected a boolean, got "yes"`,
		`f.yaml:1:52: inner.wait: expected a duration such as 30s or 10m, got integer 5`,
		`f.yaml:1:61: inner.tags: expected a list, got "b"`,
		`f.yaml:1:64: inner.extra: unknown field (known: name, count, rate, on, wait, tags)`,
		`f.yaml:2:11: map.k.nmae: unknown field (did you mean "name"?) (known: name, count, rate, on, wait, tags)`,
	}
	errs.Sort()
	if got := errs.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if o.Inner.Rate != 1 || o.Inner.Name != "a" {
		t.Errorf("good fields not decoded: %+v", o.Inner)
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{"timout", `timeout`}, {"comand", "command"}, {"wait-redy", "wait-ready"}, {"zzz", ""},
	} {
		s := DidYouMean(tc.got, []string{"timeout", "command", "wait-ready", "launch"})
		if (tc.want == "" && s != "") || (tc.want != "" && !strings.Contains(s, `"`+tc.want+`"`)) {
			t.Errorf("%s: %q", tc.got, s)
		}
	}
}

func TestParseNeverPanics(t *testing.T) {
	for _, src := range []string{"", "[]", "42", "version: runexp/v1\nstudies: 3", "studies: [[1]]",
		"version: runexp/v1\nname: x\nstudies: [{name: s, steps: [1, {type: [x]}]}]", "vars: [1]", "vars: {a: {b: c}}", "&a [*a]"} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%q panicked: %v", src, r)
				}
			}()
			Parse("f.yaml", []byte(src))
		}()
	}
}

func TestSweepValuesCompareAsNumbers(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var s Sweep
	errs := d.Decode(node(t, "{axes: {u: [0.9, 0.90, 1]}, exclude: [{}]}"), "sweep", &s)
	want := []string{"sweep.axes.u[1]: duplicate value 0.90", "sweep.exclude[0]: empty entry"}
	if len(errs) != len(want) {
		t.Fatalf("got %v, want %d problems", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("problem %d: %v, want %q", i, errs[i], w)
		}
	}
}

func TestArtifactPathNamesAFile(t *testing.T) {
	d := &Decoder{File: "f.yaml"}
	var as []Artifact
	if errs := d.Decode(node(t, "[{path: ., format: csv}, {path: sub/, format: csv}, {path: a.csv, format: csv}, {path: ./a.csv, format: csv}]"), "artifacts", &as); errs != nil {
		t.Fatal(errs)
	}
	errs := CheckArtifacts(d, "artifacts", as)
	want := []string{`artifacts[0].path: "." names a folder`, `artifacts[1].path: "sub/" names a folder`, `artifacts[3].path: duplicate artifact path "./a.csv"`}
	if len(errs) != len(want) {
		t.Fatalf("got %v, want %d problems", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("problem %d: %v, want %q", i, errs[i], w)
		}
	}
}
