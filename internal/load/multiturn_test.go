package load_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
)

func TestMultiTurnSessionsCarryTheConversationWithTheServersAnswers(t *testing.T) {
	srv := newWordServer(t, true, false)
	d := load.Dataset{Name: load.DatasetMultiTurn, NumPrompts: 3, Turns: 3, InputLen: 30, OutputLen: 4, ThinkTime: 5 * time.Millisecond}
	sums, rs := runDataset(t, srv, d, load.Mode{Kind: load.KindConcurrent, Requests: 9, Concurrency: 2}, func(c *load.Config) {
		c.API, c.Stream = load.APIChat, true
	})
	if len(rs) != 9 || len(srv.chats) != 9 {
		t.Fatalf("%d results, %d chat requests; want 3 sessions x 3 turns", len(rs), len(srv.chats))
	}
	for _, msgs := range srv.chats {
		if len(msgs)%2 != 1 {
			t.Fatalf("a request has %d messages, want user/assistant pairs and the new user turn", len(msgs))
		}
		for i := 1; i < len(msgs); i += 2 {
			want := fmt.Sprintf("answer to %d messages \"quoted\"", i)
			if msgs[i].Role != "assistant" || msgs[i].Content != want {
				t.Errorf("message %d is %s %q, want the server's answer %q", i, msgs[i].Role, msgs[i].Content, want)
			}
		}
	}
	turns := map[int]int{}
	for _, r := range rs {
		if !r.OK() || r.Session < 1 || r.Session > 3 {
			t.Errorf("request %d: session %d, error %q", r.Index, r.Session, r.Error)
		}
		turns[r.Turn]++
		if r.Turn == 1 && (r.IntendedPromptTokens == 0 || r.IntendedPromptTokens != r.PromptTokens) {
			t.Errorf("turn 1 of session %d: intended %d, server %d prompt tokens", r.Session, r.IntendedPromptTokens, r.PromptTokens)
		}
		if r.Turn > 1 && r.IntendedPromptTokens != 0 {
			t.Errorf("turn %d claims an intended length %d", r.Turn, r.IntendedPromptTokens)
		}
	}
	if turns[1] != 3 || turns[2] != 3 || turns[3] != 3 {
		t.Errorf("turns %v, want 3 of each", turns)
	}
	s := sums[0]
	if s.MeanTTFTFirstTurnms == nil || s.MeanTTFTLaterTurnsms == nil || s.MedianTTFTLaterTurnsms == nil {
		t.Fatalf("per-turn TTFT unset: %+v", s)
	}
	v := s.Values()
	if _, ok := v["mean_ttft_later_turns_ms"]; !ok {
		t.Error("Values lacks mean_ttft_later_turns_ms")
	}
}
