package schema

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/runexp/runexp/steps"
)

// enumAt returns the enum of a closed-vocabulary property schema.
func enumAt(t *testing.T, prop map[string]any) []string {
	t.Helper()
	if prop["type"] != "string" {
		t.Fatalf("type %v, want string", prop["type"])
	}
	for _, alt := range prop["anyOf"].([]any) {
		if e, ok := alt.(map[string]any)["enum"]; ok {
			var out []string
			for _, v := range e.([]any) {
				out = append(out, v.(string))
			}
			return out
		}
	}
	t.Fatalf("no enum in %v", prop)
	return nil
}

func TestSchemaHasAStringEnumForEveryClosedVocabulary(t *testing.T) {
	data, err := Generate(steps.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	props := func(o any) map[string]any { return o.(map[string]any)["properties"].(map[string]any) }
	prop := func(o any, k string) map[string]any { return props(o)[k].(map[string]any) }
	if got := enumAt(t, prop(root, "on_error")); !slices.Equal(got, []string{"continue", "abort"}) {
		t.Errorf("on_error %v", got)
	}
	study := prop(root, "studies")["items"]
	artifact := prop(study, "artifacts")["items"]
	if got := enumAt(t, prop(artifact, "format")); !slices.Contains(got, "jsonl") {
		t.Errorf("format %v", got)
	}
	with := map[string]map[string]any{}
	for _, v := range prop(study, "steps")["items"].(map[string]any)["oneOf"].([]any) {
		kind := prop(v, "type")["const"].(string)
		with[kind] = prop(v, "with")
	}
	for _, c := range []struct {
		kind, key, value string
	}{
		{"load", "api", "chat"},
		{"launch", "stop_signal", "SIGTERM"},
		{"release-check", "on_dirty", "abort"},
		{"release-check", "gpu", "nvml"},
		{"telemetry", "fallback", "host"},
		{"measure", "gpu", "none"},
	} {
		if got := enumAt(t, prop(with[c.kind], c.key)); !slices.Contains(got, c.value) {
			t.Errorf("%s.%s enum %v lacks %s", c.kind, c.key, got, c.value)
		}
	}
	mode := prop(with["load"], "modes")["items"]
	if got := enumAt(t, prop(mode, "kind")); !slices.Equal(got, []string{"sequential", "concurrent", "rate", "search", "replay"}) {
		t.Errorf("mode kind %v", got)
	}
	if got := enumAt(t, prop(mode, "arrival")); !slices.Equal(got, []string{"constant", "poisson"}) {
		t.Errorf("arrival %v", got)
	}
}
