package load

import (
	"encoding/json"
	"testing"
)

func TestParseChunk(t *testing.T) {
	tests := []struct {
		name          string
		in            string
		choices       int
		content       bool
		finish        string
		usage         bool
		prompt, compl int
		isErr         bool
		errMsg        string
	}{
		{name: "completions", in: `{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" as","logprobs":null,"finish_reason":null}]}`, choices: 1, content: true},
		{name: "completions finish", in: `{"choices":[{"text":"","finish_reason":"length"}]}`, choices: 1, finish: "length"},
		{name: "chat delta", in: `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`, choices: 1, content: true},
		{name: "chat role only", in: `{"choices":[{"delta":{"role":"assistant","content":""}}]}`, choices: 1},
		{name: "chat null content", in: `{"choices":[{"delta":{"content":null}}]}`, choices: 1},
		{name: "reasoning", in: `{"choices":[{"delta":{"reasoning_content":"hmm"}}]}`, choices: 1, content: true},
		{name: "escaped content", in: `{"choices":[{"text":"\n\u00e9\"x"}]}`, choices: 1, content: true},
		{name: "usage chunk", in: `{"id":"x","choices":[],"usage":{"prompt_tokens":17,"completion_tokens":8,"total_tokens":25}}`, usage: true, prompt: 17, compl: 8},
		{name: "ollama zero usage", in: `{"choices":[{"text":" in","index":0,"finish_reason":null}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`, choices: 1, content: true, usage: true},
		{name: "usage null", in: `{"choices":[],"usage":null}`},
		{name: "usage details", in: `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1},"x":[1,2.5e3,-0.5,true,false,null]}}`, usage: true, prompt: 3, compl: 2},
		{name: "non-stream chat", in: `{"choices":[{"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}`, choices: 1, content: true, finish: "stop", usage: true, prompt: 5, compl: 1},
		{name: "error object", in: `{"error":{"message":"boom","code":500}}`, isErr: true, errMsg: "boom"},
		{name: "vllm error", in: `{"object":"error","message":"bad","type":"BadRequestError","code":400}`, isErr: true, errMsg: "bad"},
		{name: "whitespace", in: " {\n \"choices\" : [ { \"text\" : \"a\" } ] } \n", choices: 1, content: true},
	}
	for _, tc := range tests {
		var c chunk
		if err := parseChunk([]byte(tc.in), &c); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if c.choices != tc.choices || c.content != tc.content || string(c.finish) != tc.finish ||
			c.hasUsage != tc.usage || c.promptTokens != tc.prompt || c.complTokens != tc.compl ||
			c.isError != tc.isErr || string(c.errMsg) != tc.errMsg {
			t.Errorf("%s: got %+v (finish %q, err %q)", tc.name, c, c.finish, c.errMsg)
		}
	}
}

func TestParseChunkMalformed(t *testing.T) {
	for _, in := range []string{
		``, `{`, `[]`, `"x"`, `{"choices":[{"text":" broken"`, `{"a":1}x`, `{"a":01}`, `{"a":"\x"}`,
		`{"a":"` + "\x01" + `"}`, `{"a":tru}`, `{"a":1,}`, `{"a" 1}`, `{"choices":"x"}`, `{"a":1.}`,
		`{"a":-}`, `{"a":1e}`, `{"a":"\u12"}`, `{a:1}`, `{"a":[1 2]}`, `{"a":{}`, `data: {}`,
	} {
		var c chunk
		if err := parseChunk([]byte(in), &c); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestParseChunkNoAllocs(t *testing.T) {
	b := []byte(`{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"x":{"y":[1,{"z":null}]}}}`)
	var c chunk
	if a := testing.AllocsPerRun(100, func() { parseChunk(b, &c) }); a != 0 {
		t.Fatalf("%v allocs", a)
	}
}

// FuzzParseChunk: whatever parseChunk accepts is valid JSON.
func FuzzParseChunk(f *testing.F) {
	for _, s := range []string{`{"choices":[{"text":"a"}]}`, `{"choices":[],"usage":{"prompt_tokens":1}}`, `{"a":[1,-2.5e+3,"\u00e9"]}`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c chunk
		if parseChunk(b, &c) == nil && !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
	})
}

func BenchmarkParseChunk(b *testing.B) {
	in := []byte(`{"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"microsoft/Phi-3-mini-4k-instruct","choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":null}]}`)
	var c chunk
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		parseChunk(in, &c)
	}
}
