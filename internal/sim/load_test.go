package sim

import (
	"testing"

	"github.com/runexp/runexp/internal/load"
)

// TestReadByLoadLibrary drives the simulator with the project's own load
// library: SSE parsing, usage chunks and finish reasons must come out as
// they do against vLLM.
func TestReadByLoadLibrary(t *testing.T) {
	t.Parallel()
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "1024", "--time-scale", "0.1")
	for _, api := range []load.API{load.APICompletions, load.APIChat} {
		for _, stream := range []bool{true, false} {
			cfg := load.Config{
				BaseURL: s.url, API: api, Model: "microsoft/Phi-3-mini-4k-instruct", Stream: stream, MaxTokens: 16,
				Extra: map[string]any{"ignore_eos": true},
				Modes: []load.Mode{
					{Kind: load.KindSequential, Requests: 4},
					{Kind: load.KindConcurrent, Requests: 8, Concurrency: 8},
				},
			}
			sums, err := load.Run(t.Context(), cfg, nil)
			if err != nil {
				t.Fatalf("%s stream=%v: %v", api, stream, err)
			}
			for _, sum := range sums {
				want := sum.NumPrompts * 16
				if sum.Completed != sum.NumPrompts || sum.Failed != 0 || sum.TotalOutputTokens != want ||
					sum.FinishReasons["length"] != sum.NumPrompts || (stream && (sum.TokensSource != "usage" || sum.NTTFT != sum.NumPrompts)) {
					t.Errorf("%s stream=%v %s: %+v", api, stream, sum.Mode, sum)
				}
			}
		}
	}
}
