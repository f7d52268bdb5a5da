package load

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/runexp/runexp/spec"
)

// DatasetName names where a load's requests come from, with `vllm bench
// serve --dataset-name`'s words.
type DatasetName string

// The datasets.
const (
	DatasetRandom       DatasetName = "random"        // input_len (+ prefix_len) tokens of random words, output_len tokens out
	DatasetShareGPT     DatasetName = "sharegpt"      // ShareGPT JSON: first human turn as prompt, the answer's length as max_tokens
	DatasetJSONL        DatasetName = "jsonl"         // one request per line: prompt or messages, optional output_len
	DatasetCustom       DatasetName = "custom"        // vLLM's name of jsonl
	DatasetTrace        DatasetName = "trace"         // Mooncake JSONL: timestamp, input_length, output_length, hash_ids
	DatasetSharedPrefix DatasetName = "shared_prefix" // groups x prompts_per_group: a prefix_len system prompt + input_len question
	DatasetMultiTurn    DatasetName = "multi_turn"    // sessions of turns over the chat API, each carrying the conversation so far
)

// Values lists the dataset names (spec.Enum).
func (DatasetName) Values() []string {
	return []string{string(DatasetRandom), string(DatasetShareGPT), string(DatasetJSONL), string(DatasetCustom),
		string(DatasetTrace), string(DatasetSharedPrefix), string(DatasetMultiTurn)}
}

// ThinkTime is how the pause between a session's turns is drawn.
type ThinkTime string

// The think-time distributions.
const (
	ThinkFixed       ThinkTime = "fixed"       // exactly think_time
	ThinkExponential ThinkTime = "exponential" // exponential with mean think_time, seeded
)

// Values lists the think-time distributions (spec.Enum).
func (ThinkTime) Values() []string { return []string{string(ThinkFixed), string(ThinkExponential)} }

var (
	_ spec.Enum = DatasetName("")
	_ spec.Enum = ThinkTime("")
)

// Dataset defaults and limits.
const (
	DefaultNumPrompts    = 1000      // vLLM's --num-prompts
	DefaultMooncakeBlock = 512       // tokens per hash id in Mooncake traces
	MaxDatasetFileBytes  = 2 << 30   // a dataset file larger than this is refused
	maxDatasetLineBytes  = 64 << 20  // one JSONL line
	maxDatasetRequests   = 1_000_000 // requests kept from one file
	// MaxDatasetTokens bounds one length (input_len, prefix_len,
	// output_len, a trace line's input_length) and MaxDatasetTotalTokens
	// the prompt tokens of all generated requests, so that no spec makes
	// the generator run out of memory.
	MaxDatasetTokens      = 1 << 20
	MaxDatasetTotalTokens = 1 << 26
	sharegptMinLen        = 4    // vLLM is_valid_sequence: min prompt and output tokens
	sharegptMaxPromptLen  = 1024 // vLLM: longest prompt kept
	sharegptMaxTotalLen   = 2048 // vLLM: longest prompt + output kept
	defaultRandomInputLen = 1024 // vLLM's --random-input-len
	defaultRandomOutLen   = 128  // vLLM's --random-output-len
)

// Dataset is a load step's `dataset:` block (and `runexp load
// --dataset-name ...`): which requests to send. Lengths are in tokens as
// the server counts them (template and special tokens included): the
// engine fits each prompt against the server's tokenizer (see Counter),
// or against Tokenizer's file when given.
// Every choice is seeded: the same dataset gives the same requests.
type Dataset struct {
	Name       DatasetName   `yaml:"name" json:"name" doc:"random, sharegpt, jsonl (alias custom), trace (Mooncake JSONL), shared_prefix or multi_turn"`
	Path       string        `yaml:"path" json:"path,omitempty" doc:"sharegpt, jsonl, trace: the dataset file (relative to the spec); read locally, never fetched"`
	NumPrompts int           `yaml:"num_prompts" json:"num_prompts,omitempty" doc:"distinct requests drawn (default: the most requests of a mode, else 1000); a mode sends request i mod num_prompts"`
	Seed       int64         `yaml:"seed" json:"seed,omitempty" doc:"seed of every random choice (lengths, words, sampling, order, think times)"`
	InputLen   int           `yaml:"input_len" json:"input_len,omitempty" doc:"random: prompt tokens after the prefix (default 1024); shared_prefix: question tokens; multi_turn: tokens of each user turn"`
	OutputLen  int           `yaml:"output_len" json:"output_len,omitempty" doc:"max_tokens of each request (random default 128; sharegpt/jsonl: overrides the file's lengths)"`
	RangeRatio float64       `yaml:"range_ratio" json:"range_ratio,omitempty" doc:"random: lengths drawn uniformly from [len x (1-r), len x (1+r)], as vLLM's --random-range-ratio; within [0, 1)"`
	PrefixLen  int           `yaml:"prefix_len" json:"prefix_len,omitempty" doc:"random: tokens of one prefix shared by every prompt; shared_prefix: tokens of each group's system prompt"`
	Groups     int           `yaml:"groups" json:"groups,omitempty" doc:"shared_prefix: number of distinct system prompts (default 1)"`
	PerGroup   int           `yaml:"prompts_per_group" json:"prompts_per_group,omitempty" doc:"shared_prefix: questions per system prompt (default num_prompts / groups)"`
	TimeScale  float64       `yaml:"time_scale" json:"time_scale,omitempty" doc:"trace: multiplies the trace's offsets (0.5 replays twice as fast; default 1)"`
	BlockSize  int           `yaml:"block_size" json:"block_size,omitempty" doc:"trace: tokens per hash id (default 512, Mooncake's)"`
	Turns      int           `yaml:"turns" json:"turns,omitempty" doc:"multi_turn: turns per session (default 4)"`
	ThinkTime  time.Duration `yaml:"think_time" json:"think_time,omitempty" doc:"multi_turn: pause between a session's turns"`
	Think      ThinkTime     `yaml:"think" json:"think,omitempty" doc:"multi_turn: fixed (default) or exponential think times with mean think_time"`
	Tokenizer  TokenizerFile `yaml:"tokenizer" json:"tokenizer,omitempty" doc:"a Hugging Face tokenizer.json (relative to the spec; BPE: GPT-2, Llama-2/3, Mistral, Phi-3, Qwen2): prompt lengths are counted with it, offline, instead of on the server (vLLM bench's --tokenizer); it knows no chat template"`
}

// normalized returns d with its alias resolved.
func (d Dataset) normalized() Dataset {
	if d.Name == DatasetCustom {
		d.Name = DatasetJSONL
	}
	return d
}

// needsFile reports whether the dataset reads Path.
func (d Dataset) needsFile() bool {
	switch d.normalized().Name {
	case DatasetShareGPT, DatasetJSONL, DatasetTrace:
		return true
	}
	return false
}

// validate reports every problem of d at its key under prefix ("dataset.").
func (d *Dataset) validate(prefix string, api API, modes []Mode) error {
	var p spec.Problems
	if d == nil {
		return nil
	}
	at := func(k string) string { return prefix + k }
	switch {
	case d.Name == "":
		p.Add(at("name"), "required (one of %s)", strings.Join(d.Name.Values(), ", "))
		return p.Err()
	case !spec.InEnum(d.Name, string(d.Name)):
		p.Add(at("name"), "%s", spec.NotInEnum(string(d.Name), d.Name.Values()))
		return p.Err()
	}
	n := d.normalized()
	if n.needsFile() && d.Path == "" {
		p.Add(at("path"), "required for dataset %s", d.Name)
	}
	if !n.needsFile() && d.Path != "" {
		p.Add(at("path"), "applies to sharegpt, jsonl and trace only")
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"num_prompts", d.NumPrompts}, {"input_len", d.InputLen}, {"output_len", d.OutputLen}, {"prefix_len", d.PrefixLen},
		{"groups", d.Groups}, {"prompts_per_group", d.PerGroup}, {"block_size", d.BlockSize}, {"turns", d.Turns}} {
		if f.v < 0 {
			p.Add(at(f.key), "%d must be >= 0", f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"input_len", d.InputLen}, {"output_len", d.OutputLen}, {"prefix_len", d.PrefixLen}, {"block_size", d.BlockSize}} {
		if f.v > MaxDatasetTokens {
			p.Add(at(f.key), "%d is more than %d tokens", f.v, MaxDatasetTokens)
		}
	}
	if d.NumPrompts > maxDatasetRequests {
		p.Add(at("num_prompts"), "%d is more than %d", d.NumPrompts, maxDatasetRequests)
	}
	if d.Turns > 1000 {
		p.Add(at("turns"), "%d is more than 1000", d.Turns)
	}
	if per := int64(max(d.InputLen, 1))*max(int64(d.Turns), 1) + int64(d.PrefixLen); d.NumPrompts > 0 && int64(d.NumPrompts)*per > MaxDatasetTotalTokens {
		p.Add(at("num_prompts"), "%d prompts of up to %d tokens are more than the %d tokens a dataset may generate", d.NumPrompts, per, MaxDatasetTotalTokens)
	}
	if d.RangeRatio < 0 || d.RangeRatio >= 1 {
		p.Add(at("range_ratio"), "%v must be within [0, 1)", d.RangeRatio)
	}
	if d.TimeScale < 0 {
		p.Add(at("time_scale"), "%v must be > 0", d.TimeScale)
	}
	if d.ThinkTime < 0 {
		p.Add(at("think_time"), "%v must be >= 0", d.ThinkTime)
	}
	if d.Think != "" && !spec.InEnum(d.Think, string(d.Think)) {
		p.Add(at("think"), "%s", spec.NotInEnum(string(d.Think), d.Think.Values()))
	}
	only := func(key string, set bool, which string) {
		if set {
			p.Add(at(key), "applies to dataset %s only", which)
		}
	}
	only("range_ratio", d.RangeRatio != 0 && n.Name != DatasetRandom, "random")
	only("prefix_len", d.PrefixLen != 0 && n.Name != DatasetRandom && n.Name != DatasetSharedPrefix, "random and shared_prefix")
	only("input_len", d.InputLen != 0 && n.Name != DatasetRandom && n.Name != DatasetSharedPrefix && n.Name != DatasetMultiTurn, "random, shared_prefix and multi_turn")
	only("groups", d.Groups != 0 && n.Name != DatasetSharedPrefix, "shared_prefix")
	only("prompts_per_group", d.PerGroup != 0 && n.Name != DatasetSharedPrefix, "shared_prefix")
	only("time_scale", d.TimeScale != 0 && n.Name != DatasetTrace, "trace")
	only("block_size", d.BlockSize != 0 && n.Name != DatasetTrace, "trace")
	only("turns", d.Turns != 0 && n.Name != DatasetMultiTurn, "multi_turn")
	only("think_time", d.ThinkTime != 0 && n.Name != DatasetMultiTurn, "multi_turn")
	only("think", d.Think != "" && n.Name != DatasetMultiTurn, "multi_turn")
	if n.Name == DatasetMultiTurn && api != APIChat {
		p.Add(at("name"), "multi_turn carries the conversation in messages: set api: chat")
	}
	if n.Name == DatasetMultiTurn {
		for i, m := range modes {
			if m.Kind != KindSequential && m.Kind != KindConcurrent {
				p.Add(fmt.Sprintf("modes[%d].kind", i), "multi_turn runs closed-loop sessions: use kind sequential or concurrent")
			}
		}
	}
	if (n.Name == DatasetSharedPrefix || n.Name == DatasetMultiTurn) && d.InputLen == 0 {
		p.Add(at("input_len"), "required for %s", d.Name)
	}
	if n.Name == DatasetSharedPrefix && d.NumPrompts > 0 && d.Groups > 0 && d.PerGroup > 0 && d.NumPrompts != d.Groups*d.PerGroup {
		p.Add(at("num_prompts"), "%d is not groups x prompts_per_group = %d (give two of them)", d.NumPrompts, d.Groups*d.PerGroup)
	}
	return p.Err()
}

// String describes the dataset in one line for logs.
func (d Dataset) String() string {
	var b strings.Builder
	b.WriteString(string(d.Name))
	add := func(k string, v any, set bool) {
		if set {
			fmt.Fprintf(&b, " %s=%v", k, v)
		}
	}
	add("path", d.Path, d.Path != "")
	add("num_prompts", d.NumPrompts, d.NumPrompts != 0)
	add("input_len", d.InputLen, d.InputLen != 0)
	add("output_len", d.OutputLen, d.OutputLen != 0)
	add("prefix_len", d.PrefixLen, d.PrefixLen != 0)
	add("range_ratio", d.RangeRatio, d.RangeRatio != 0)
	add("seed", d.Seed, d.Seed != 0)
	add("tokenizer", d.Tokenizer, d.Tokenizer != "")
	return b.String()
}

// MarshalJSON writes ThinkTime as text ("2s"), as a spec writes it (plans
// print datasets this way).
func (d Dataset) MarshalJSON() ([]byte, error) {
	type plain Dataset // drops this method
	var think string
	if d.ThinkTime != 0 {
		think = d.ThinkTime.String()
	}
	return json.Marshal(struct {
		plain
		ThinkTime string `json:"think_time,omitempty"`
	}{plain(d), think})
}
