package load_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/load"
)

// wordCounter counts as wordServer does, in process.
type wordCounter struct{ skew int }

func (c wordCounter) Count(_ context.Context, prompt string) (int, error) {
	return wordTokens(prompt) + c.skew, nil
}

func runDataset(t *testing.T, srv *wordServer, d load.Dataset, m load.Mode, mod func(*load.Config)) ([]load.Summary, []load.RequestResult) {
	t.Helper()
	cfg := load.Config{BaseURL: srv.URL, Model: "m", Dataset: &d, Modes: []load.Mode{m}}
	if mod != nil {
		mod(&cfg)
	}
	var rs []load.RequestResult
	sums, err := load.Run(context.Background(), cfg, func(r load.RequestResult) { rs = append(rs, r) })
	if err != nil {
		t.Fatal(err)
	}
	return sums, rs
}

func TestRandomPromptsHaveExactlyTheTokensTheServerCounts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tokenize bool
	}{{"tokenize endpoint", true}, {"probe requests", false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newWordServer(t, tc.tokenize, false)
			d := load.Dataset{Name: load.DatasetRandom, InputLen: 256, OutputLen: 32, Seed: 7}
			sums, rs := runDataset(t, srv, d, load.Mode{Kind: load.KindConcurrent, Requests: 16, Concurrency: 4}, nil)
			if len(rs) != 16 {
				t.Fatalf("%d results, want 16", len(rs))
			}
			for _, r := range rs {
				if r.PromptTokens != 256 || r.IntendedPromptTokens != 256 {
					t.Errorf("request %d: server counted %d prompt tokens, intended %d; want 256 both", r.Index, r.PromptTokens, r.IntendedPromptTokens)
				}
			}
			if s := sums[0]; s.PromptTokenChecks != 16 || s.PromptTokenMismatches != 0 {
				t.Errorf("checks %d, mismatches %d; want 16, 0", s.PromptTokenChecks, s.PromptTokenMismatches)
			}
			for i, mt := range srv.maxTokens {
				if mt != 32 {
					t.Errorf("request %d: max_tokens %d, want 32", i, mt)
				}
			}
			if tc.tokenize != (srv.tokenizes > 0) {
				t.Errorf("/tokenize asked %d times with the endpoint served=%v", srv.tokenizes, tc.tokenize)
			}
		})
	}
}

func TestPromptTokenMismatchesCountWhatTheServerReportsDifferently(t *testing.T) {
	srv := newWordServer(t, false, false)
	d := load.Dataset{Name: load.DatasetRandom, InputLen: 40, OutputLen: 4}
	sums, _ := runDataset(t, srv, d, load.Mode{Kind: load.KindSequential, Requests: 5}, func(c *load.Config) {
		c.Counter = wordCounter{skew: 1} // a tokenizer that is not the server's
	})
	if s := sums[0]; s.PromptTokenChecks != 5 || s.PromptTokenMismatches != 5 {
		t.Errorf("checks %d, mismatches %d; want 5, 5", s.PromptTokenChecks, s.PromptTokenMismatches)
	}
}

func TestRandomLengthsFollowRangeRatioAndTheSeed(t *testing.T) {
	d := load.Dataset{Name: load.DatasetRandom, InputLen: 100, OutputLen: 50, RangeRatio: 0.5, Seed: 3}
	build := func(d load.Dataset) []load.Request {
		reqs, _, err := load.BuildRequests(context.Background(), d, load.APICompletions, 40, wordCounter{})
		if err != nil {
			t.Fatal(err)
		}
		return reqs
	}
	reqs := build(d)
	inLens, outLens := map[int]bool{}, map[int]bool{}
	for i, r := range reqs {
		if got := wordTokens(r.Prompt); got != r.PromptTokens || got < 50 || got > 150 {
			t.Errorf("request %d: %d tokens (intended %d), want within [50, 150]", i, got, r.PromptTokens)
		}
		if r.OutputLen < 25 || r.OutputLen > 75 {
			t.Errorf("request %d: output_len %d, want within [25, 75]", i, r.OutputLen)
		}
		inLens[r.PromptTokens], outLens[r.OutputLen] = true, true
	}
	if len(inLens) < 10 || len(outLens) < 10 {
		t.Errorf("%d distinct input and %d output lengths in 40 requests: the ratio is not applied", len(inLens), len(outLens))
	}
	again := build(d)
	for i := range reqs {
		if !reflect.DeepEqual(reqs[i], again[i]) {
			t.Fatalf("request %d differs between two builds with seed 3", i)
		}
	}
	d.Seed = 4
	if other := build(d); other[0].Prompt == reqs[0].Prompt {
		t.Error("seeds 3 and 4 made the same first prompt")
	}
}

func TestRandomPrefixIsSharedByEveryPromptAndCountsExactly(t *testing.T) {
	d := load.Dataset{Name: load.DatasetRandom, InputLen: 30, OutputLen: 8, PrefixLen: 64}
	reqs, _, err := load.BuildRequests(context.Background(), d, load.APICompletions, 8, wordCounter{})
	if err != nil {
		t.Fatal(err)
	}
	common := reqs[0].Prompt
	for _, r := range reqs[1:] {
		for !strings.HasPrefix(r.Prompt, common) {
			common = common[:len(common)-1]
		}
		if r.PromptTokens != 94 || wordTokens(r.Prompt) != 94 {
			t.Errorf("prompt counts %d (intended %d), want 64 + 30", wordTokens(r.Prompt), r.PromptTokens)
		}
	}
	// The shared text ends where the prefix does (plus the space before
	// each prompt's own number).
	if got := wordTokens(common); got != 64 {
		t.Errorf("the prompts share %d tokens, want the 64 of the prefix", got)
	}
}

func TestSharedPrefixMakesGroupsOfQuestionsInShuffledOrder(t *testing.T) {
	d := load.Dataset{Name: load.DatasetSharedPrefix, Groups: 3, PerGroup: 4, PrefixLen: 100, InputLen: 20, OutputLen: 16, Seed: 1}
	reqs, _, err := load.BuildRequests(context.Background(), d, load.APICompletions, 0, wordCounter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 12 {
		t.Fatalf("%d requests, want 3 x 4", len(reqs))
	}
	groups := map[string]int{}
	var order []string
	for i, r := range reqs {
		if wordTokens(r.Prompt) != 120 || r.PromptTokens != 120 || r.OutputLen != 16 {
			t.Errorf("request %d: %d tokens (intended %d), output %d; want 120, 120, 16", i, wordTokens(r.Prompt), r.PromptTokens, r.OutputLen)
		}
		sys, _, ok := strings.Cut(r.Prompt, "\nquestion ")
		if !ok || wordTokens(sys) != 100 {
			t.Fatalf("request %d: system prompt of %d tokens, want 100", i, wordTokens(sys))
		}
		groups[sys]++
		order = append(order, sys)
	}
	if len(groups) != 3 {
		t.Errorf("%d distinct system prompts, want 3", len(groups))
	}
	for sys, n := range groups {
		if n != 4 {
			t.Errorf("a system prompt has %d questions, want 4 (%.20q)", n, sys)
		}
	}
	grouped := true
	for i := 1; i < len(order); i++ {
		if order[i] != order[i-1] && i%4 != 0 {
			grouped = false
		}
	}
	if grouped {
		t.Error("requests come group by group: the order is not shuffled")
	}
}

func TestSharedPrefixOfZeroTokensIsTheBaselineWithNothingShared(t *testing.T) {
	d := load.Dataset{Name: load.DatasetSharedPrefix, Groups: 2, PerGroup: 3, InputLen: 20}
	reqs, _, err := load.BuildRequests(context.Background(), d, load.APICompletions, 0, wordCounter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		if wordTokens(r.Prompt) != 20 || strings.Contains(r.Prompt, "system") {
			t.Errorf("request %d: %d tokens, %.30q; want 20 tokens and no system prompt", i, wordTokens(r.Prompt), r.Prompt)
		}
		for _, o := range reqs[i+1:] {
			if strings.Fields(o.Prompt)[1] == strings.Fields(r.Prompt)[1] {
				t.Errorf("two questions start alike: %.20q, %.20q", r.Prompt, o.Prompt)
			}
		}
	}
}
