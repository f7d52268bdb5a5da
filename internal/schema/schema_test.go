package schema

import (
	"encoding/json"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// The schema cannot drift from what the decoder accepts: the decoder takes
// numbers and booleans in string fields, keeping their literal text
// (OLLAMA_NUM_PARALLEL: 4), and 0 as a duration, so the schema allows those
// types there too and editors do not flag a valid spec.
func TestSchemaAcceptsWhatDecoderAccepts(t *testing.T) {
	// The decoder accepts these.
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("{command: [vllm, serve, --port, 8000], env: {OLLAMA_NUM_PARALLEL: 4}, stop_grace: 0}"), &n); err != nil {
		t.Fatal(err)
	}
	k, _ := steps.Builtin().Lookup("launch")
	cfg := k.New()
	if errs := (&spec.Decoder{File: "f"}).Decode(n.Content[0], "with", cfg); len(errs) > 0 {
		t.Fatalf("decoder rejects: %v", errs)
	}

	data, err := Generate(steps.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	json.Unmarshal(data, &root)
	stepSchema := root["properties"].(map[string]any)["studies"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)["steps"].(map[string]any)["items"].(map[string]any)
	var with map[string]any
	for _, v := range stepSchema["oneOf"].([]any) {
		props := v.(map[string]any)["properties"].(map[string]any)
		if props["type"].(map[string]any)["const"] == "launch" {
			with = props["with"].(map[string]any)["properties"].(map[string]any)
		}
	}
	allows := func(s map[string]any, jsonType string) bool {
		if t, ok := s["type"].(string); ok {
			return t == jsonType || (t == "number" && jsonType == "integer")
		}
		if ts, ok := s["type"].([]any); ok {
			for _, t := range ts {
				if t == jsonType {
					return true
				}
			}
		}
		if alts, ok := s["anyOf"].([]any); ok {
			for _, a := range alts {
				if t, _ := a.(map[string]any)["type"].(string); t == jsonType {
					return true
				}
			}
		}
		return false
	}
	if items := with["command"].(map[string]any)["items"].(map[string]any); !allows(items, "integer") {
		t.Errorf("launch.with.command items: schema %v rejects 8000, the decoder accepts it", items)
	}
	if env := with["env"].(map[string]any)["additionalProperties"].(map[string]any); !allows(env, "integer") {
		t.Errorf("launch.with.env values: schema %v rejects 4, the decoder accepts it", env)
	}
	if d := with["stop_grace"].(map[string]any); !allows(d, "integer") {
		t.Errorf("durations: schema %v rejects 0, the decoder accepts it", d)
	}
}
