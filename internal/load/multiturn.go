package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Multi-turn sessions (dataset multi_turn): a session is Turns user
// messages of InputLen tokens each; turn k's request carries the whole
// conversation so far (the earlier user messages and the server's own
// answers to them, over the chat API), sent ThinkTime after the previous
// answer ended (fixed, or exponential with that mean, seeded per session).
// A mode of Requests requests runs ceil(Requests/Turns) sessions, up to
// its concurrency at once (sequential: one); a session whose turn fails
// ends there. Turn 1 has a known prompt length (PromptTokens); later turns,
// whose history holds the server's answers, do not.

const defaultTurns = 4

// buildSessions returns sessions x turns requests: Session and Turn (from
// 1) set, Prompt the turn's user message, fitted to InputLen tokens as
// the server counts a one-message conversation.
func (b *datasetBuild) multiTurn(ctx context.Context) ([]Request, error) {
	d := b.d
	turns := d.Turns
	if turns == 0 {
		turns = defaultTurns
	}
	sessions := max((b.n+turns-1)/turns, 1)
	if d.NumPrompts > 0 {
		sessions = d.NumPrompts
	}
	reqs := make([]Request, 0, sessions*turns)
	for s := range sessions {
		for k := range turns {
			src := "session " + strconv.Itoa(s) + " turn " + strconv.Itoa(k+1) + wordText(b.rng, d.InputLen)
			p, n, err := b.text(ctx, "", src, d.InputLen, 0)
			if err != nil {
				return nil, fmt.Errorf("dataset multi_turn: session %d turn %d: %w", s, k+1, err)
			}
			r := Request{Prompt: p, OutputLen: d.OutputLen, Session: s + 1, Turn: k + 1}
			if k == 0 {
				r.PromptTokens = n
			}
			reqs = append(reqs, r)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

// sessionsOf groups the client's requests by session (indices into
// bodies, in turn order); nil when they are not multi-turn.
func sessionsOf(reqs []Request) [][]int {
	var out [][]int
	for i, r := range reqs {
		if r.Turn == 0 {
			return nil
		}
		if r.Turn == 1 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], i)
	}
	return out
}

// runSessions runs a closed mode of multi-turn sessions: each worker takes
// the next session and runs it turn by turn.
func runSessions(ctx context.Context, cl *client, m Mode, onResult func(RequestResult)) []RequestResult {
	turns := len(cl.sessions[0])
	nSess := 0
	if m.Requests > 0 {
		nSess = (m.Requests + turns - 1) / turns
	}
	label := m.label()
	return closedLoop(ctx, cl, m, nSess, m.Requests, onResult,
		func(w *worker, s int, _ time.Time, col *collector, local *[]RequestResult) {
			cl.session(ctx, w, label, s, local, col)
		})
}

// session runs session number s of the mode (the dataset's session s mod
// their count) turn by turn.
func (c *client) session(ctx context.Context, w *worker, label string, s int, local *[]RequestResult, col *collector) {
	turns := c.sessions[s%len(c.sessions)]
	rng := rand.New(rand.NewPCG(uint64(c.think.seed), uint64(s)))
	var history []Message
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer func() { w.answer = nil }() // other modes' requests collect no answer
	for k, idx := range turns {
		if k > 0 {
			pause := c.think.d
			if c.think.exponential {
				pause = time.Duration(rng.ExpFloat64() * float64(pause))
			}
			if pause > 0 {
				timer.Reset(pause)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		history = append(history, Message{Role: "user", Content: c.prompts[idx]})
		pb := &c.bodies[idx]
		if k > 0 {
			b, err := requestBody(c.cfg, Request{Messages: history, OutputLen: c.outputLen[idx]})
			if err != nil {
				return // a string history always encodes
			}
			pb = &promptBody{b: b, getBody: bodyReader(b)}
		}
		r := RequestResult{Mode: label, Index: s*len(turns) + k, IntendedStart: time.Now(), Session: s + 1, Turn: k + 1}
		w.answer = w.answer[:0:cap(w.answer)]
		if w.answer == nil {
			w.answer = make([]byte, 0, 1024)
		}
		c.do(w, pb, &r)
		col.add(local, &r)
		if !r.OK() {
			return // the conversation cannot go on without the answer
		}
		var answer string
		if err := json.Unmarshal(append(append([]byte{'"'}, w.answer...), '"'), &answer); err != nil {
			answer = string(w.answer)
		}
		history = append(history, Message{Role: "assistant", Content: answer})
	}
}

// thinkTime is how a client pauses between a session's turns.
type thinkTime struct {
	d           time.Duration
	exponential bool
	seed        int64
}

// turnTTFTs sets the per-turn TTFT figures of s from the successful
// streamed requests of a multi-turn mode: turn 1 against later turns,
// whose prompts carry the conversation (and, with prefix caching, find it
// cached).
func (s *Summary) turnTTFTs(rs []RequestResult) {
	var first, later []float64
	for i := range rs {
		r := &rs[i]
		if r.Turn == 0 || !r.OK() || r.TTFTms <= 0 {
			continue
		}
		if r.Turn == 1 {
			first = append(first, r.TTFTms)
		} else {
			later = append(later, r.TTFTms)
		}
	}
	if len(first) > 0 {
		st := ComputeStats(first)
		s.MeanTTFTFirstTurnms, s.MedianTTFTFirstTurnms = &st.Mean, &st.Median
	}
	if len(later) > 0 {
		st := ComputeStats(later)
		s.MeanTTFTLaterTurnsms, s.MedianTTFTLaterTurnsms = &st.Mean, &st.Median
	}
}
