package load_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
)

func words(n int, w string) string { return strings.TrimSpace(strings.Repeat(w+" ", n)) }

// writeShareGPT writes a ShareGPT-format file: conversations keep, of
// vLLM's filters, (a) two turns at least, (b) prompt and answer of 4
// tokens at least, (c) prompt at most 1024 and prompt + answer at most
// 2048 tokens.
func writeShareGPT(t *testing.T) (path string, usable map[string]int) {
	t.Helper()
	type turn struct {
		From  string `json:"from"`
		Value string `json:"value"`
	}
	type conv struct {
		ID            string `json:"id"`
		Conversations []turn `json:"conversations"`
	}
	usable = map[string]int{}
	var convs []conv
	for i := range 12 {
		p := "question " + strings.Repeat("ab ", 5+i)
		a := words(10+3*i, "yes")
		convs = append(convs, conv{ID: "ok", Conversations: []turn{{"human", p}, {"gpt", a}, {"human", "more"}}})
		usable[p] = wordTokens(a)
	}
	convs = append(convs,
		conv{ID: "one turn", Conversations: []turn{{"human", words(20, "lonely")}}},
		conv{ID: "short prompt", Conversations: []turn{{"human", "hi"}, {"gpt", words(20, "answer")}}},
		conv{ID: "short answer", Conversations: []turn{{"human", words(20, "tell")}, {"gpt", "no"}}},
		conv{ID: "long prompt", Conversations: []turn{{"human", words(1100, "long")}, {"gpt", words(20, "ok")}}},
		conv{ID: "long total", Conversations: []turn{{"human", words(1000, "big")}, {"gpt", words(1100, "huge")}}},
	)
	b, err := json.Marshal(convs)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "sharegpt.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, usable
}

func TestShareGPTFileDrivesRequestsWithVLLMsFilters(t *testing.T) {
	path, usable := writeShareGPT(t)
	srv := newWordServer(t, true, false)
	d := load.Dataset{Name: load.DatasetShareGPT, Path: path, NumPrompts: 10, Seed: 5}
	sums, rs := runDataset(t, srv, d, load.Mode{Kind: load.KindConcurrent, Requests: 10, Concurrency: 3}, nil)
	if s := sums[0]; s.Completed != 10 || s.PromptTokenChecks != 10 || s.PromptTokenMismatches != 0 {
		t.Fatalf("completed %d, checks %d, mismatches %d; want 10, 10, 0", s.Completed, s.PromptTokenChecks, s.PromptTokenMismatches)
	}
	seen := map[string]bool{}
	for i, p := range srv.prompts {
		want, ok := usable[p]
		if !ok {
			t.Errorf("sent a prompt vLLM's filters drop: %.40q", p)
			continue
		}
		if srv.maxTokens[i] != want {
			t.Errorf("max_tokens %d, want the answer's %d tokens", srv.maxTokens[i], want)
		}
		seen[p] = true
	}
	if len(seen) != 10 {
		t.Errorf("%d distinct prompts in 10 requests, want 10", len(seen))
	}
	for _, r := range rs {
		if r.IntendedPromptTokens != r.PromptTokens {
			t.Errorf("request %d: intended %d, server %d", r.Index, r.IntendedPromptTokens, r.PromptTokens)
		}
	}

	// sharegpt_output_len replaces the answers' lengths; the seed the sample.
	reqs, _, err := load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetShareGPT, Path: path, NumPrompts: 10, Seed: 6, OutputLen: 7},
		load.APICompletions, 0, wordCounter{})
	if err != nil {
		t.Fatal(err)
	}
	var other []string
	for _, r := range reqs {
		if r.OutputLen != 7 {
			t.Errorf("output_len %d, want 7", r.OutputLen)
		}
		other = append(other, r.Prompt)
	}
	if slices.Equal(other, srv.prompts) {
		t.Error("seeds 5 and 6 sampled the same prompts in the same order")
	}
}

func TestShareGPTWithFewerUsableConversationsThanAskedIsAnError(t *testing.T) {
	path, _ := writeShareGPT(t)
	_, _, err := load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetShareGPT, Path: path, NumPrompts: 13},
		load.APICompletions, 0, wordCounter{})
	if err == nil || !strings.Contains(err.Error(), "12 usable conversations, fewer than num_prompts 13") {
		t.Fatalf("err = %v", err)
	}
}

func TestJSONLLinesGivePromptsAndOutputLengths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reqs.jsonl")
	os.WriteFile(path, []byte(`{"prompt": "one two three", "output_len": 5}

{"prompt": "four five"}
`), 0o644)
	reqs, _, err := load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetCustom, Path: path}, load.APICompletions, 0, wordCounter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Prompt != "one two three" || reqs[0].OutputLen != 5 || reqs[0].PromptTokens != 4 ||
		reqs[1].Prompt != "four five" || reqs[1].OutputLen != 0 {
		t.Errorf("requests %+v", reqs)
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"prompt\": \"ok\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n"), 0o644)
	_, _, err = load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetJSONL, Path: bad}, load.APICompletions, 0, nil)
	if err == nil || !strings.Contains(err.Error(), bad+":2: \"messages\" needs the chat API") {
		t.Errorf("err = %v, want it at %s:2", err, bad)
	}
	reqs, _, err = load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetJSONL, Path: bad}, load.APIChat, 0, nil)
	if err != nil || len(reqs[1].Messages) != 1 {
		t.Errorf("chat: %v %+v", err, reqs)
	}
}

func TestDatasetFileLargerThanTheLimitIsRefusedBeforeReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(load.MaxDatasetFileBytes + 1); err != nil { // sparse: no disk used
		t.Skipf("sparse file: %v", err)
	}
	f.Close()
	_, _, err = load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetJSONL, Path: path}, load.APICompletions, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Fatalf("err = %v", err)
	}
}

// writeTrace writes a Mooncake trace: timestamps in ms, lengths, and hash
// ids of 512-token blocks (requests 0 and 2 share their first block).
func writeTrace(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTraceReplaySendsAtTheTracesOffsetsScaled(t *testing.T) {
	path := writeTrace(t,
		`{"timestamp": 1000, "input_length": 600, "output_length": 4, "hash_ids": [1, 2]}`,
		`{"timestamp": 1300, "input_length": 100, "output_length": 3, "hash_ids": [7]}`,
		`{"timestamp": 1700, "input_length": 700, "output_length": 5, "hash_ids": [1, 9]}`,
		`{"timestamp": 2200, "input_length": 50, "output_length": 2, "hash_ids": [8]}`)
	srv := newWordServer(t, true, false)
	d := load.Dataset{Name: load.DatasetTrace, Path: path, TimeScale: 0.5}
	sums, rs := runDataset(t, srv, d, load.Mode{Kind: load.KindReplay}, nil)
	want := []time.Duration{0, 150 * time.Millisecond, 350 * time.Millisecond, 600 * time.Millisecond}
	if len(rs) != 4 || sums[0].Completed != 4 {
		t.Fatalf("%d results, %d completed; want 4", len(rs), sums[0].Completed)
	}
	slices.SortFunc(rs, func(a, b load.RequestResult) int { return a.Index - b.Index })
	t0 := rs[0].IntendedStart
	for i, r := range rs {
		if got := r.IntendedStart.Sub(t0); got != want[i] {
			t.Errorf("request %d intended at %v, want the trace's %v", i, got, want[i])
		}
		// The server saw it at the offset, give or take the generator's
		// recorded lag and the network.
		got := srv.arrivals[i] - srv.arrivals[0]
		slack := time.Duration((r.LagMs+rs[0].LagMs)*1e6) + 20*time.Millisecond
		if d := got - want[i]; d < -slack || d > slack {
			t.Errorf("request %d reached the server at +%v, want +%v within %v", i, got, want[i], slack)
		}
		if r.PromptTokens != []int{600, 100, 700, 50}[i] || srv.maxTokens[i] != []int{4, 3, 5, 2}[i] {
			t.Errorf("request %d: %d prompt tokens, max_tokens %d", i, r.PromptTokens, srv.maxTokens[i])
		}
	}
	// Equal leading hash ids, equal leading text: requests 0 and 2 share
	// their first block.
	common := 0
	for common < min(len(srv.prompts[0]), len(srv.prompts[2])) && srv.prompts[0][common] == srv.prompts[2][common] {
		common++
	}
	if n := wordTokens(srv.prompts[0][:common]); n < 500 || n > 530 {
		t.Errorf("requests with hash_ids [1 2] and [1 9] share %d tokens, want about one 512-token block", n)
	}
	if strings.HasPrefix(srv.prompts[1], srv.prompts[3][:20]) {
		t.Error("requests with different hash ids start alike")
	}
}

func TestTraceLineAskingForAHugePromptIsAnErrorAtItsLine(t *testing.T) {
	path := writeTrace(t,
		`{"timestamp": 0, "input_length": 6, "output_length": 4, "hash_ids": [1]}`,
		`{"timestamp": 5, "input_length": 9999999999, "output_length": 4, "hash_ids": [1]}`)
	_, _, err := load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetTrace, Path: path}, load.APICompletions, 0, nil)
	if err == nil || !strings.Contains(err.Error(), path+":2: input_length and output_length must be at most") {
		t.Fatalf("err = %v", err)
	}
}

func TestTraceOutOfOrderLineIsAnErrorAtItsLine(t *testing.T) {
	path := writeTrace(t,
		`{"timestamp": 10, "input_length": 6, "output_length": 4, "hash_ids": [1]}`,
		`{"timestamp": 5, "input_length": 6, "output_length": 4, "hash_ids": [1]}`)
	_, _, err := load.BuildRequests(context.Background(), load.Dataset{Name: load.DatasetTrace, Path: path}, load.APICompletions, 0, nil)
	if err == nil || !strings.Contains(err.Error(), path+":2: timestamp 5 is before") {
		t.Fatalf("err = %v", err)
	}
}

func TestPrefixCacheHitRateIsTheCountersGrowthOverTheModeAndKVUsageItsPeak(t *testing.T) {
	srv := newWordServer(t, true, true)
	d := load.Dataset{Name: load.DatasetRandom, InputLen: 20, OutputLen: 2}
	sums, rs := runDataset(t, srv, d, load.Mode{Kind: load.KindSequential, Requests: 6}, func(c *load.Config) { c.MetricsPath = "/metrics" })
	var q, h float64
	for _, r := range rs {
		q += float64(r.PromptTokens)
		h += float64(r.PromptTokens / 2)
	}
	s := sums[0]
	if s.PrefixCacheQueries == nil || s.PrefixCacheHits == nil || s.PrefixCacheHitRate == nil {
		t.Fatalf("prefix cache fields unset: %+v", s)
	}
	if *s.PrefixCacheQueries != q || *s.PrefixCacheHits != h || math.Abs(*s.PrefixCacheHitRate-h/q) > 1e-12 {
		t.Errorf("queries %v hits %v rate %v; want %v %v %v", *s.PrefixCacheQueries, *s.PrefixCacheHits, *s.PrefixCacheHitRate, q, h, h/q)
	}
	if _, ok := s.Values()["prefix_cache_hit_rate"]; !ok {
		t.Error("Values lacks prefix_cache_hit_rate")
	}
	if s.KVCacheUsageMax == nil || *s.KVCacheUsageMax != 0.25 {
		t.Errorf("kv_cache_usage_max %v, want the gauge's 0.25", s.KVCacheUsageMax)
	}

	// vLLM's earlier names serve as well.
	old := newWordServer(t, true, true)
	old.oldNames = true
	sums, _ = runDataset(t, old, d, load.Mode{Kind: load.KindSequential, Requests: 2}, func(c *load.Config) { c.MetricsPath = "/metrics" })
	if sums[0].PrefixCacheHitRate == nil {
		t.Error("vllm:gpu_prefix_cache_* counters not read")
	}

	// A server without the counters: the fields stay unset, no error.
	plain := newWordServer(t, true, false)
	sums, _ = runDataset(t, plain, d, load.Mode{Kind: load.KindSequential, Requests: 2}, func(c *load.Config) { c.MetricsPath = "/metrics" })
	if s := sums[0]; s.PrefixCacheQueries != nil || s.PrefixCacheHitRate != nil || s.KVCacheUsageMax != nil {
		t.Errorf("counters absent, yet queries %v rate %v", s.PrefixCacheQueries, s.PrefixCacheHitRate)
	}
	if _, ok := sums[0].Values()["prefix_cache_hit_rate"]; ok {
		t.Error("Values has prefix_cache_hit_rate without counters")
	}
}
