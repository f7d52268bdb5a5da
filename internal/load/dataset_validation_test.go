package load_test

import (
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/load"
)

func TestDatasetProblemsAreReportedAtTheirKeys(t *testing.T) {
	seq := []load.Mode{{Kind: load.KindSequential, Requests: 1}}
	for _, tc := range []struct {
		name  string
		d     load.Dataset
		api   load.API
		modes []load.Mode
		want  []string
	}{
		{"unknown name", load.Dataset{Name: "randm"}, "", seq, []string{`dataset.name: "randm" is not one of`, `did you mean "random"`}},
		{"file missing", load.Dataset{Name: load.DatasetShareGPT}, "", seq, []string{"dataset.path: required for dataset sharegpt"}},
		{"range ratio", load.Dataset{Name: load.DatasetRandom, RangeRatio: 1}, "", seq, []string{"dataset.range_ratio: 1 must be within [0, 1)"}},
		{"key of another dataset", load.Dataset{Name: load.DatasetRandom, Groups: 2, TimeScale: 2}, "", seq,
			[]string{"dataset.groups: applies to dataset shared_prefix only", "dataset.time_scale: applies to dataset trace only"}},
		{"shared prefix lengths", load.Dataset{Name: load.DatasetSharedPrefix}, "", seq,
			[]string{"dataset.input_len: required for shared_prefix"}},
		{"multi turn over completions", load.Dataset{Name: load.DatasetMultiTurn, InputLen: 10}, load.APICompletions, seq,
			[]string{"dataset.name: multi_turn carries the conversation in messages: set api: chat"}},
		{"multi turn at a rate", load.Dataset{Name: load.DatasetMultiTurn, InputLen: 10}, load.APIChat, []load.Mode{{Kind: load.KindRate, Rate: 1, Requests: 2}},
			[]string{"modes[0].kind: multi_turn runs closed-loop sessions: use kind sequential or concurrent"}},
		{"lengths that would exhaust memory", load.Dataset{Name: load.DatasetRandom, InputLen: 1 << 30, NumPrompts: 1 << 21}, "", seq,
			[]string{"dataset.input_len: 1073741824 is more than 1048576 tokens", "dataset.num_prompts: 2097152 is more than 1000000",
				"dataset.num_prompts: 2097152 prompts of up to 1073741824 tokens are more than the 67108864 tokens"}},
		{"replay without a trace", load.Dataset{Name: load.DatasetRandom}, "", []load.Mode{{Kind: load.KindReplay}},
			[]string{"modes[0].kind: replay sends at a trace's times: it needs dataset trace"}},
		{"replay with a rate", load.Dataset{Name: load.DatasetTrace, Path: "t.jsonl"}, "", []load.Mode{{Kind: load.KindReplay, Rate: 3}},
			[]string{"modes[0].rate: does not apply to kind replay"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			cfg := load.Config{BaseURL: "http://127.0.0.1:1", Model: "m", API: tc.api, Dataset: &d, Modes: tc.modes}
			err := cfg.Validate()
			if err == nil {
				t.Fatal("valid")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	cfg := load.Config{BaseURL: "http://127.0.0.1:1", Model: "m", Prompts: load.Prompts{Fixed: "x"},
		Dataset: &load.Dataset{Name: load.DatasetRandom}, Modes: seq}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "dataset: set a dataset or prompts, not both") {
		t.Errorf("dataset and prompt: %v", err)
	}
}
