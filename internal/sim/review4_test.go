package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Review 4: vLLM ends every SSE stream with "data: [DONE]", also after a
// mid-stream error event: completion_stream_generator (and the chat one)
// catch the exception, yield `data: {error JSON}` and then fall through to
// the unconditional `yield "data: [DONE]\n\n"`
// (vllm/entrypoints/openai/completion/serving.py). The simulator's stream()
// returns right after its error event (server.go, the `if err != nil` branch
// after s.await), so an OpenAI client that reads until [DONE] sees a
// truncated stream instead of an error followed by a normal end.
// Triggered here with a request that can never get its KV blocks
// (errNoFit: --num-gpu-blocks-override 2 leaves 1 usable block).
func TestReview4StreamErrorStillEndsWithDone(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "1024", "--num-gpu-blocks-override", "2", "--time-scale", "0")
	b, _ := json.Marshal(map[string]any{
		"prompt": strings.Repeat("abcd", 100), "max_tokens": 4, "stream": true,
	})
	resp, err := http.Post(s.url+"/v1/completions", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events, done, err := readSSE(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		t.Fatal("no events at all")
	}
	if !done {
		t.Errorf("stream with a mid-stream error ended without data: [DONE] (%d events); vLLM always sends [DONE] after the error event", len(events))
	}
}

// Review 4: vLLM fills a response's "model" with
// OpenAIServingModels.model_name(), i.e. base_model_paths[0].name — the
// first --served-model-name — whatever alias the request used
// (vllm/entrypoints/openai/models/serving.py model_name;
// completion/serving.py passes model_name to every CompletionResponse and
// chunk). The simulator echoes req.Model (server.go generate: base.Model =
// req.Model), so a request to the second alias gets a different "model".
func TestReview4ResponseModelIsFirstServedName(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "1024", "--time-scale", "0",
		"--served-model-name", "first", "--served-model-name", "second")
	resp, body := postJSON(t, s.url+"/v1/completions", map[string]any{"model": "second", "prompt": "hi", "max_tokens": 2})
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", resp.Status, body)
	}
	var c struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if c.Model != "first" {
		t.Errorf("request for alias %q: response model %q, vLLM answers with the first served name %q", "second", c.Model, "first")
	}
}

// Review 4: vLLM's unknown-model error names the offending parameter:
// create_error_response(message="The model `x` does not exist.",
// err_type="NotFoundError", status_code=404, param="model")
// (vllm/entrypoints/openai/models/serving.py OpenAIModelRegistry.check_model).
// The simulator's writeError always sends "param": null.
func TestReview4UnknownModelErrorParam(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "1024", "--time-scale", "0")
	resp, body := postJSON(t, s.url+"/v1/chat/completions", map[string]any{
		"model": "nope", "messages": []map[string]string{{"role": "user", "content": "hi"}},
	})
	var e struct {
		Error struct {
			Type  string  `json:"type"`
			Param *string `json:"param"`
			Code  int     `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if resp.StatusCode != 404 || e.Error.Type != "NotFoundError" || e.Error.Code != 404 {
		t.Fatalf("unknown model: %s %s", resp.Status, body)
	}
	if e.Error.Param == nil || *e.Error.Param != "model" {
		t.Errorf("unknown model error param = %v, vLLM sends \"model\": %s", e.Error.Param, body)
	}
}
