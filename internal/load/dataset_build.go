package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// Request is one request a dataset makes: a prompt (or a conversation)
// and how many tokens to ask for.
type Request struct {
	Prompt   string    // completions prompt, or the one user message of a chat request
	Messages []Message // a whole conversation instead of Prompt (jsonl messages)
	// PromptTokens is the prompt's length as the server counts it, as
	// intended; 0 when unknown (then no mismatch can be judged).
	PromptTokens int
	OutputLen    int           // max_tokens; 0 means Config.MaxTokens
	At           time.Duration // trace: send offset from the mode's start (replay)
	// Session and Turn (from 1) place a multi_turn request in its
	// conversation; 0 for other datasets.
	Session, Turn int
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// datasetBuild carries what building a dataset needs.
type datasetBuild struct {
	d   Dataset
	n   int // requests wanted
	fit *fitter
	rng *rand.Rand
	api API
}

// BuildRequests returns the requests d describes, n of them (d.NumPrompts
// when set; a file dataset without it gives all its requests). Lengths are
// fitted with c; a nil c leaves them estimates (filler words, one per
// token) with PromptTokens 0. counts is how many times c was asked.
func BuildRequests(ctx context.Context, d Dataset, api API, n int, c Counter) (reqs []Request, counts int, err error) {
	d = d.normalized()
	if d.NumPrompts > 0 {
		n = d.NumPrompts
	} else {
		// Without num_prompts the pool holds as many requests as a mode
		// sends, within the generation bound (modes cycle through it).
		per := max(d.InputLen, defaultRandomInputLen) + d.PrefixLen
		n = max(min(n, MaxDatasetTotalTokens/per), 1)
	}
	b := &datasetBuild{d: d, n: n, api: api, rng: rand.New(rand.NewPCG(uint64(d.Seed), 0x2545f4914f6cdd1d))}
	if c != nil {
		b.fit = newFitter(c)
	}
	switch d.Name {
	case DatasetRandom:
		reqs, err = b.random(ctx)
	case DatasetSharedPrefix:
		reqs, err = b.sharedPrefix(ctx)
	case DatasetShareGPT:
		reqs, err = b.sharegpt(ctx)
	case DatasetJSONL:
		reqs, err = b.jsonl(ctx)
	case DatasetTrace:
		reqs, err = b.trace(ctx)
	case DatasetMultiTurn:
		reqs, err = b.multiTurn(ctx)
	default:
		return nil, 0, fmt.Errorf("dataset %q: unknown", d.Name)
	}
	if b.fit != nil {
		counts = b.fit.counts
	}
	if err == nil && len(reqs) == 0 {
		err = fmt.Errorf("dataset %s: no requests", d.Name)
	}
	return reqs, counts, err
}

// uniformLen draws a length uniformly from [l(1-r), l(1+r)] as vLLM's
// RandomDataset does (integer bounds truncated, both included), at least 1.
func uniformLen(r *rand.Rand, l int, ratio float64) int {
	lo, hi := int(float64(l)*(1-ratio)), int(float64(l)*(1+ratio))
	if hi <= lo {
		return max(lo, 1)
	}
	return max(lo+r.IntN(hi-lo+1), 1)
}

// text makes a prompt of want tokens: before (already fitted, or "")
// followed by a cut of src. Without a Counter the prompt is before plus
// want - beforeTokens filler words.
func (b *datasetBuild) text(ctx context.Context, before, src string, want, beforeTokens int) (string, int, error) {
	if b.fit == nil {
		return before + cutWords(src, want-beforeTokens), 0, nil
	}
	s, n, err := b.fit.fit(ctx, before, src, want)
	if errors.Is(err, errCannotFit) {
		return s, want, nil // counted as intended: the mismatch shows in the results
	}
	return s, n, err
}

// cutWords returns the first n space-separated words of s (s starts with
// a space).
func cutWords(s string, n int) string {
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' {
			n--
			if n <= 0 {
				return s[:i]
			}
		}
	}
	return s
}

func (b *datasetBuild) random(ctx context.Context) ([]Request, error) {
	d := b.d
	in, out := d.InputLen, d.OutputLen
	if in == 0 {
		in = defaultRandomInputLen
	}
	if out == 0 {
		out = defaultRandomOutLen
	}
	prefix := ""
	if d.PrefixLen > 0 {
		var err error
		if prefix, _, err = b.text(ctx, "", "shared"+wordText(b.rng, d.PrefixLen), d.PrefixLen, 0); err != nil {
			return nil, fmt.Errorf("dataset random: prefix: %w", err)
		}
	}
	reqs := make([]Request, b.n)
	for i := range reqs {
		inLen, outLen := uniformLen(b.rng, in, d.RangeRatio), uniformLen(b.rng, out, d.RangeRatio)
		// Each prompt starts with its own number, so prompts share no
		// more than the declared prefix.
		src := " " + strconv.Itoa(i) + wordText(b.rng, inLen)
		if prefix == "" {
			src = src[1:]
		}
		p, n, err := b.text(ctx, prefix, src, d.PrefixLen+inLen, d.PrefixLen)
		if err != nil {
			return nil, fmt.Errorf("dataset random: prompt %d: %w", i, err)
		}
		reqs[i] = Request{Prompt: p, PromptTokens: n, OutputLen: outLen}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

// sharedPrefix is SGLang's generated-shared-prefix workload: groups system
// prompts of prefix_len tokens, each followed by prompts_per_group
// questions of input_len tokens, in an order shuffled with the seed.
func (b *datasetBuild) sharedPrefix(ctx context.Context) ([]Request, error) {
	d := b.d
	groups := max(d.Groups, 1)
	per := d.PerGroup
	if per == 0 {
		per = max(b.n/groups, 1)
	}
	reqs := make([]Request, 0, groups*per)
	for g := range groups {
		// prefix_len 0 is the baseline: questions with nothing shared.
		sys := ""
		if d.PrefixLen > 0 {
			var err error
			if sys, _, err = b.text(ctx, "", "system "+strconv.Itoa(g)+wordText(b.rng, d.PrefixLen), d.PrefixLen, 0); err != nil {
				return nil, fmt.Errorf("dataset shared_prefix: group %d system prompt: %w", g, err)
			}
		}
		for q := range per {
			src := "\nquestion " + strconv.Itoa(g) + "." + strconv.Itoa(q) + wordText(b.rng, d.InputLen)
			if sys == "" {
				src = src[1:]
			}
			p, n, err := b.text(ctx, sys, src, d.PrefixLen+d.InputLen, d.PrefixLen)
			if err != nil {
				return nil, fmt.Errorf("dataset shared_prefix: group %d question %d: %w", g, q, err)
			}
			reqs = append(reqs, Request{Prompt: p, PromptTokens: n, OutputLen: d.OutputLen})
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	b.rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	return reqs, nil
}

// openDataset opens a dataset file, refusing one over MaxDatasetFileBytes.
func openDataset(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() > MaxDatasetFileBytes {
		f.Close()
		return nil, fmt.Errorf("%s: %d bytes is more than the %d a dataset file may have", path, fi.Size(), int64(MaxDatasetFileBytes))
	}
	return f, nil
}

// sharegptEntry is what is kept of one ShareGPT conversation: its first
// two turns.
type sharegptEntry struct{ prompt, answer string }

// readShareGPT streams a ShareGPT JSON file (a list of {"conversations":
// [{"from", "value"}, ...]}), keeping the first two turns of each
// conversation that has at least two, as vLLM's ShareGPTDataset.
func readShareGPT(path string) ([]sharegptEntry, error) {
	f, err := openDataset(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, fmt.Errorf("%s: want a JSON list of conversations (ShareGPT format)", path)
	}
	var out []sharegptEntry
	for i := 0; dec.More(); i++ {
		var e struct {
			Conversations []struct {
				From  string `json:"from"`
				Value string `json:"value"`
			} `json:"conversations"`
		}
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s: conversation %d (byte %d): %v", path, i, dec.InputOffset(), err)
		}
		if len(e.Conversations) < 2 {
			continue
		}
		if len(out) >= maxDatasetRequests {
			return nil, fmt.Errorf("%s: more than %d conversations", path, maxDatasetRequests)
		}
		out = append(out, sharegptEntry{e.Conversations[0].Value, e.Conversations[1].Value})
	}
	return out, nil
}

// sharegpt samples conversations in an order shuffled with the seed and
// keeps those vLLM's is_valid_sequence keeps (prompt and output at least 4
// tokens, prompt at most 1024, both at most 2048), until n.
func (b *datasetBuild) sharegpt(ctx context.Context) ([]Request, error) {
	entries, err := readShareGPT(b.d.Path)
	if err != nil {
		return nil, err
	}
	b.rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	count := func(s string) (int, error) {
		if b.fit == nil {
			return (len(s) + 3) / 4, nil
		}
		b.fit.counts++
		return b.fit.c.Count(ctx, s)
	}
	var reqs []Request
	for _, e := range entries {
		if len(reqs) == b.n {
			break
		}
		pl, err := count(e.prompt)
		if err != nil {
			return nil, fmt.Errorf("dataset sharegpt: %w", err)
		}
		ol := b.d.OutputLen
		if ol == 0 {
			if ol, err = count(e.answer); err != nil {
				return nil, fmt.Errorf("dataset sharegpt: %w", err)
			}
		}
		if pl < sharegptMinLen || (b.d.OutputLen == 0 && ol < sharegptMinLen) || pl > sharegptMaxPromptLen || pl+ol > sharegptMaxTotalLen {
			continue
		}
		r := Request{Prompt: e.prompt, OutputLen: ol}
		if b.fit != nil {
			r.PromptTokens = pl
		}
		reqs = append(reqs, r)
	}
	if len(reqs) < b.n && b.d.NumPrompts > 0 {
		return nil, fmt.Errorf("dataset sharegpt: %s has %d usable conversations, fewer than num_prompts %d", b.d.Path, len(reqs), b.n)
	}
	return reqs, nil
}

// eachLine calls fn with every non-blank line of a JSONL file and its
// number, streaming it with lines of at most maxDatasetLineBytes.
func eachLine(path string, fn func(line []byte, ln int) error) error {
	f, err := openDataset(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxDatasetLineBytes)
	kept := 0
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		if kept++; kept > maxDatasetRequests {
			return fmt.Errorf("%s:%d: more than %d requests", path, ln, maxDatasetRequests)
		}
		if err := fn(line, ln); err != nil {
			return fmt.Errorf("%s:%d: %w", path, ln, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w (a line may be at most %d bytes)", path, err, maxDatasetLineBytes)
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// jsonl reads one request per line: {"prompt": ...} or {"messages":
// [...]}, with an optional "output_len". With num_prompts, that many are
// sampled in an order shuffled with the seed; else all, in file order.
func (b *datasetBuild) jsonl(ctx context.Context) ([]Request, error) {
	var reqs []Request
	err := eachLine(b.d.Path, func(line []byte, _ int) error {
		var obj struct {
			Prompt    *string   `json:"prompt"`
			Messages  []Message `json:"messages"`
			OutputLen *int      `json:"output_len"`
		}
		if err := json.Unmarshal(line, &obj); err != nil {
			return err
		}
		r := Request{}
		switch {
		case obj.Prompt != nil && obj.Messages != nil:
			return errors.New(`give "prompt" or "messages", not both`)
		case obj.Prompt != nil && *obj.Prompt != "":
			r.Prompt = *obj.Prompt
		case len(obj.Messages) > 0:
			if b.api != APIChat {
				return errors.New(`"messages" needs the chat API (api: chat)`)
			}
			r.Messages = obj.Messages
		default:
			return errors.New(`no non-empty "prompt" or "messages"`)
		}
		if obj.OutputLen != nil {
			if *obj.OutputLen < 1 {
				return fmt.Errorf("output_len %d must be >= 1", *obj.OutputLen)
			}
			r.OutputLen = *obj.OutputLen
		}
		if b.d.OutputLen > 0 {
			r.OutputLen = b.d.OutputLen
		}
		reqs = append(reqs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if b.d.NumPrompts > 0 {
		if len(reqs) < b.n {
			return nil, fmt.Errorf("%s: %d requests, fewer than num_prompts %d", b.d.Path, len(reqs), b.n)
		}
		b.rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
		reqs = reqs[:b.n]
	}
	if b.fit != nil {
		for i := range reqs {
			if reqs[i].Messages != nil {
				continue // counted by the server as a whole conversation only
			}
			b.fit.counts++
			n, err := b.fit.c.Count(ctx, reqs[i].Prompt)
			if err != nil {
				return nil, fmt.Errorf("dataset jsonl: %w", err)
			}
			reqs[i].PromptTokens = n
		}
	}
	return reqs, nil
}

// mooncakeLine is one request of a Mooncake trace.
type mooncakeLine struct {
	Timestamp    *float64 `json:"timestamp"` // ms from the trace's start
	InputLength  *int     `json:"input_length"`
	OutputLength *int     `json:"output_length"`
	HashIDs      []int64  `json:"hash_ids"`
}

// trace replays a Mooncake trace: request i at (timestamp_i -
// timestamp_0) x time_scale, its prompt built from one block of filler
// text per hash id (the same id, the same text, so equal leading ids give
// a shared prefix) and cut to input_length tokens; output_length as
// max_tokens. With num_prompts, the first that many lines.
func (b *datasetBuild) trace(ctx context.Context) ([]Request, error) {
	scale := b.d.TimeScale
	if scale == 0 {
		scale = 1
	}
	block := b.d.BlockSize
	if block == 0 {
		block = DefaultMooncakeBlock
	}
	var lines []mooncakeLine
	var t0, prev float64
	var total int64
	stop := errors.New("enough")
	err := eachLine(b.d.Path, func(line []byte, ln int) error {
		if b.d.NumPrompts > 0 && len(lines) == b.d.NumPrompts {
			return stop
		}
		var m mooncakeLine
		if err := json.Unmarshal(line, &m); err != nil {
			return err
		}
		switch {
		case m.Timestamp == nil || m.InputLength == nil || m.OutputLength == nil:
			return errors.New(`want "timestamp", "input_length" and "output_length" (Mooncake format)`)
		case *m.InputLength < 1 || *m.OutputLength < 1:
			return errors.New("input_length and output_length must be >= 1")
		case *m.InputLength > MaxDatasetTokens || *m.OutputLength > MaxDatasetTokens:
			return fmt.Errorf("input_length and output_length must be at most %d", MaxDatasetTokens)
		case math.IsNaN(*m.Timestamp) || math.IsInf(*m.Timestamp, 0):
			return errors.New("timestamp is not a number")
		case len(lines) > 0 && *m.Timestamp < prev:
			return fmt.Errorf("timestamp %v is before the previous line's %v (a trace is in time order)", *m.Timestamp, prev)
		}
		if total += int64(*m.InputLength); total > MaxDatasetTotalTokens {
			return fmt.Errorf("the trace so far asks for more than %d prompt tokens (set num_prompts)", MaxDatasetTotalTokens)
		}
		if len(lines) == 0 {
			t0 = *m.Timestamp
		}
		prev = *m.Timestamp
		lines = append(lines, m)
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, err
	}
	if b.d.NumPrompts > 0 && len(lines) < b.d.NumPrompts {
		return nil, fmt.Errorf("%s: %d requests, fewer than num_prompts %d", b.d.Path, len(lines), b.d.NumPrompts)
	}
	// A block's text is blockChars long whatever request it is in, so equal
	// ids give equal text; its length is block tokens' worth, learned
	// once from the server before any request is built.
	blockChars := 0
	if b.fit != nil {
		r := rand.New(rand.NewPCG(uint64(b.d.Seed), 0x6a09e667f3bcc908))
		cal, _, err := b.text(ctx, "", wordText(r, block), block, 0)
		if err != nil {
			return nil, fmt.Errorf("dataset trace: calibrating a %d-token block: %w", block, err)
		}
		blockChars = len(cal)
	}
	reqs := make([]Request, len(lines))
	for i, m := range lines {
		src := traceText(b.d.Seed, m.HashIDs, block, blockChars, *m.InputLength)
		p, n, err := b.text(ctx, "", src, *m.InputLength, 0)
		if err != nil {
			return nil, fmt.Errorf("dataset trace: request %d: %w", i, err)
		}
		off := (*m.Timestamp - t0) * scale
		reqs[i] = Request{Prompt: p, PromptTokens: n, OutputLen: *m.OutputLength, At: time.Duration(math.Round(off * 1e6))}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

// traceText is the text of a trace request before its cut: one block of
// filler per hash id, each seeded by the id (so it is the same wherever
// the id appears) and blockChars long (block words when 0), then filler in
// case the blocks count short.
func traceText(seed int64, ids []int64, block, blockChars, inputLen int) string {
	// Blocks past the input length would be cut anyway.
	ids = ids[:min(len(ids), inputLen/block+2)]
	var buf []byte
	for j, id := range ids {
		r := rand.New(rand.NewPCG(uint64(seed), uint64(id)))
		if j == 0 {
			buf = append(buf, "block"...)
		}
		if blockChars > 0 {
			buf = append(buf, wordText(r, blockChars)[:blockChars]...)
		} else {
			buf = append(buf, wordTextWords(r, block)...)
		}
	}
	tail := rand.New(rand.NewPCG(uint64(seed)^0xabcdef, uint64(len(ids))))
	buf = append(buf, wordText(tail, inputLen)...)
	return string(buf)
}

// wordTextWords returns n filler words, each preceded by a space.
func wordTextWords(r interface{ IntN(int) int }, n int) string {
	var b []byte
	for range n {
		b = append(b, ' ')
		b = append(b, words[r.IntN(len(words))]...)
	}
	return string(b)
}

// PrepareRequests returns the requests Run sends for cfg: its dataset's
// (lengths fitted with cfg.Counter, else its Tokenizer file's, else what
// DetectCounter finds), else
// its prompts'. note says in one line how lengths were counted, for logs.
// Building a dataset sends requests to the server (token counts) but
// records nothing.
func PrepareRequests(ctx context.Context, cfg Config) (reqs []Request, note string, err error) {
	cfg = cfg.withDefaults()
	if cfg.Dataset == nil {
		prompts, err := cfg.Prompts.Load()
		if err != nil {
			return nil, "", fmt.Errorf("prompts: %w", err)
		}
		reqs = make([]Request, len(prompts))
		for i, p := range prompts {
			reqs[i] = Request{Prompt: p}
		}
		return reqs, "", nil
	}
	c, how := cfg.Counter, "given"
	if c == nil && cfg.Dataset.Tokenizer != "" {
		// vLLM bench's --tokenizer: counted locally even when the server
		// has /tokenize; requests still record what the server reports.
		if c, err = TokenizerCounter(string(cfg.Dataset.Tokenizer)); err != nil {
			return nil, "", fmt.Errorf("dataset.tokenizer: %w", err)
		}
		how = CountLocal + " " + string(cfg.Dataset.Tokenizer)
	}
	if c == nil {
		if c, how, err = DetectCounter(ctx, cfg); err != nil {
			return nil, "", fmt.Errorf("dataset: %w", err)
		}
	}
	n := 0
	for _, m := range cfg.Modes {
		n = max(n, m.Requests)
		if m.Requests == 0 {
			n = max(n, DefaultNumPrompts)
		}
	}
	reqs, counts, err := BuildRequests(ctx, *cfg.Dataset, cfg.API, max(n, 1), c)
	closeIdle(c)
	if err != nil {
		return nil, "", err
	}
	note = fmt.Sprintf("dataset %s: %d requests, token lengths counted by %s (%d counts)", cfg.Dataset, len(reqs), how, counts)
	if c == nil {
		note = fmt.Sprintf("dataset %s: %d requests; the server has neither /tokenize nor usage: lengths are estimates", cfg.Dataset, len(reqs))
	}
	return reqs, note, nil
}

// replaySchedule is a replay mode's send times: the prepared requests'
// offsets, the first Requests of them when set.
func (c *client) replaySchedule(m Mode) []time.Duration {
	n := len(c.bodies)
	if m.Requests > 0 {
		n = min(n, m.Requests)
	}
	out := make([]time.Duration, n)
	copy(out, c.at)
	return out
}
