// Package loadtest is a fake OpenAI-compatible server for tests and
// benchmarks of the load engine: /v1/completions and /v1/chat/completions,
// streaming (SSE) and not, with scripted timing and scripted misbehaviour
// (missing usage, Ollama's zero-usage chunks, malformed JSON, split writes,
// trickling bytes, mid-stream disconnects, 4xx/5xx bursts, no [DONE]).
//
// Use NewServer in tests (an httptest.Server) or Handler.Serve to serve it
// yourself (bench/stub). Token i (from 0) of a response is sent at
// arrival + TTFT + i*ITL (absolute deadlines, so there is no drift). Every
// SSE event is flushed on its own.
//
// The fake server is a reference for measuring clients, so its own timing
// must not be the error being measured. Served by NewServer or Serve, on
// Linux, arrival is the kernel's receive time of the request's first bytes
// (SO_TIMESTAMPNS), so a burst of requests queueing for the handler does
// not delay the script (a pipelined request, whose bytes were read with the
// previous one, falls back to its handler's start); and deadlines wait on a
// timerfd, because Go's
// timers wake up to 1 ms late. As a bare http.Handler, or off Linux,
// arrival is the handler's start; off Linux deadlines use time.Sleep.
//
// GET /loadtest/stats reports requests seen, peak requests in flight and
// the server-side first-token delays actually achieved (?reset=1 clears
// them), so a benchmark can tell the stub's own lateness from the client's
// measurement error.
package loadtest

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Script scripts the fake server's answers. The zero value answers at once
// with max_tokens tokens (16 if the request has none), usage when asked for,
// and [DONE].
type Script struct {
	TTFT   time.Duration // arrival → first token
	ITL    time.Duration // gap between tokens
	Tokens int           // completion tokens per response; 0 = request's max_tokens (16 if unset)
	Token  string        // text of each token; default " tok"

	NoUsage     bool // never send usage (stream: no usage chunk; non-stream: no usage member)
	OllamaUsage bool // stream: also put an all-zero usage in every content chunk (Ollama /v1/completions quirk)
	// SeparateFinish sends finish_reason in an extra chunk with empty
	// content (Ollama, chat servers) instead of on the last content chunk.
	SeparateFinish bool
	FinishReason   string // default "length" when Tokens reached max_tokens, else "stop"

	NoDone          bool          // end the stream without "data: [DONE]"
	MalformedAt     int           // 1-based content chunk replaced by invalid JSON; 0 = none
	ErrorEventAt    int           // 1-based content chunk replaced by {"error":{...}}; 0 = none
	DisconnectAfter int           // close the connection (RST) after this many content chunks; 0 = never
	SplitWrites     bool          // write each event in 3 pieces (mid-JSON, mid-terminator) with a flush and SplitDelay between
	SplitDelay      time.Duration // default 2ms
	Trickle         bool          // write each event one byte at a time, flushing each (slow)
	CRLF            bool          // end lines with \r\n
	CR              bool          // end lines with a bare \r (legal SSE, rarely seen)
	EmptyEvents     bool          // an empty "data:" event before each event
	NoSpace         bool          // "data:{...}" instead of "data: {...}"
	Comments        bool          // ": keep-alive" comment line before each event
	MultiLine       bool          // split each JSON payload over two data: lines

	// Status returns a status to answer request n (0-based arrival order)
	// with instead of completing it; 0 means serve normally. See Burst.
	Status func(n int64) int
	// EchoAuth puts the request's Authorization header into error bodies
	// (to test that the client redacts it).
	EchoAuth bool
}

// Burst returns a Script.Status that fails requests [from, from+count) with
// status.
func Burst(status int, from, count int64) func(int64) int {
	return func(n int64) int {
		if n >= from && n < from+count {
			return status
		}
		return 0
	}
}

// Handler serves the fake API and counts what it sees. It is safe for
// concurrent use.
type Handler struct {
	Script Script

	requests    atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	mu          sync.Mutex
	lastBody    []byte
	lastHeader  http.Header
	firstToken  []time.Duration
}

// NewHandler returns a Handler for s.
func NewHandler(s Script) *Handler { return &Handler{Script: s} }

// Requests is the number of requests received.
func (h *Handler) Requests() int64 { return h.requests.Load() }

// MaxInFlight is the peak number of requests being served at once.
func (h *Handler) MaxInFlight() int64 { return h.maxInFlight.Load() }

// FirstTokenDelays returns, for every streamed response that sent a token,
// the server-side delay from the request's arrival to the first token's flush:
// the TTFT the server actually produced, to tell client measurement error
// from server (or machine) lateness.
func (h *Handler) FirstTokenDelays() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.firstToken...)
}

// Stats is what GET /loadtest/stats reports (and ?reset=1 resets).
type Stats struct {
	Requests       int64   `json:"requests"`
	MaxInFlight    int64   `json:"max_in_flight"`
	FirstTokens    int     `json:"first_tokens"`
	FirstTokenP50  float64 `json:"first_token_p50_ms"` // server-side arrival → first token flushed
	FirstTokenP90  float64 `json:"first_token_p90_ms"`
	FirstTokenP99  float64 `json:"first_token_p99_ms"`
	ScriptedTTFTms float64 `json:"scripted_ttft_ms"`
}

func (h *Handler) serveStats(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	ft := append([]time.Duration(nil), h.firstToken...)
	if r.URL.Query().Get("reset") == "1" {
		h.firstToken = h.firstToken[:0]
		defer h.requests.Store(0)
		defer h.maxInFlight.Store(0)
	}
	h.mu.Unlock()
	slices.Sort(ft)
	pct := func(p float64) float64 {
		if len(ft) == 0 {
			return 0
		}
		return float64(ft[int(p*float64(len(ft)-1)+0.5)]) / 1e6
	}
	st := Stats{Requests: h.requests.Load(), MaxInFlight: h.maxInFlight.Load(), FirstTokens: len(ft),
		FirstTokenP50: pct(0.5), FirstTokenP90: pct(0.9), FirstTokenP99: pct(0.99), ScriptedTTFTms: float64(h.Script.TTFT) / 1e6}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// Last returns a copy of the last request's body and headers.
func (h *Handler) Last() ([]byte, http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]byte(nil), h.lastBody...), h.lastHeader.Clone()
}

// Server is a Handler behind an httptest.Server.
type Server struct {
	*httptest.Server
	*Handler
}

// NewServer starts a fake server; Close it when done.
func NewServer(s Script) *Server {
	h := NewHandler(s)
	ts := httptest.NewUnstartedServer(h)
	ts.Listener = wrapListener(ts.Listener)
	ts.Config.ConnContext = withConn
	ts.Config.ConnState = clearOnIdle
	ts.Start()
	return &Server{Server: ts, Handler: h}
}

// Serve serves h on ln until it fails. Requests are timed from their
// arrival at the socket (see the package comment), not from the handler's
// start.
func (h *Handler) Serve(ln net.Listener) error {
	srv := &http.Server{Handler: h, ConnContext: withConn, ConnState: clearOnIdle, ErrorLog: log.New(io.Discard, "", 0)}
	return srv.Serve(wrapListener(ln))
}

type connKey struct{}

// clearOnIdle forgets, once a response is done, the arrival of bytes read
// for the finished request (net/http discards an unread body after the
// handler returns), so the next request is timed from its own bytes.
func clearOnIdle(c net.Conn, st http.ConnState) {
	if ac, ok := c.(*arrivalConn); ok && st == http.StateIdle {
		ac.clearArrival()
	}
}

func withConn(ctx context.Context, c net.Conn) context.Context {
	if ac, ok := c.(*arrivalConn); ok {
		return context.WithValue(ctx, connKey{}, ac)
	}
	return ctx
}

type request struct {
	Model         string `json:"model"`
	MaxTokens     int    `json:"max_tokens"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Prompt   any `json:"prompt"`
	Messages []struct {
		Content string `json:"content"`
	} `json:"messages"`
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	conn, _ := r.Context().Value(connKey{}).(*arrivalConn)
	if conn != nil {
		if t, ok := conn.takeArrival(); ok {
			arrival = t
		}
	}
	if r.URL.Path == "/loadtest/stats" {
		h.serveStats(w, r)
		return
	}
	n := h.requests.Add(1) - 1
	cur := h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	for {
		m := h.maxInFlight.Load()
		if cur <= m || h.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	sc := &h.Script
	chat := false
	switch r.URL.Path {
	case "/v1/completions":
	case "/v1/chat/completions":
		chat = true
	default:
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, `{"error":{"message":"method not allowed"}}`, http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	h.mu.Lock()
	h.lastBody, h.lastHeader = body, r.Header
	h.mu.Unlock()
	if sc.Status != nil {
		if st := sc.Status(n); st != 0 {
			msg := `{"error":{"message":"scripted failure","code":` + strconv.Itoa(st) + `}}`
			if sc.EchoAuth {
				msg = `{"error":{"message":"bad credentials: ` + r.Header.Get("Authorization") + `"}}`
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			io.WriteString(w, msg)
			return
		}
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	tokens := sc.Tokens
	if tokens == 0 {
		tokens = req.MaxTokens
		if tokens == 0 {
			tokens = 16
		}
	}
	finish := sc.FinishReason
	if finish == "" {
		finish = "stop"
		if req.MaxTokens == 0 || tokens >= req.MaxTokens {
			finish = "length"
		}
	}
	promptTokens := 0
	if chat {
		for _, m := range req.Messages {
			promptTokens += len(strings.Fields(m.Content))
		}
	} else if p, ok := req.Prompt.(string); ok {
		promptTokens = len(strings.Fields(p))
	}
	tok := sc.Token
	if tok == "" {
		tok = " tok"
	}
	e := emitter{h: h, sc: sc, chat: chat, model: req.Model, id: n, created: arrival.Unix(), tok: tok}
	if !req.Stream {
		sleepUntil(arrival.Add(sc.TTFT + time.Duration(max(tokens-1, 0))*sc.ITL))
		e.json(w, tokens, promptTokens, finish)
		return
	}
	usage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !sc.NoUsage
	e.stream(w, r, arrival, tokens, promptTokens, finish, usage)
}

type emitter struct {
	h       *Handler
	sc      *Script
	chat    bool
	model   string
	id      int64
	created int64
	tok     string
}

// head appends the members every object starts with; object is the
// "object" value.
func (e *emitter) head(b []byte, object string) []byte {
	if e.chat {
		b = append(b, `{"id":"chatcmpl-`...)
	} else {
		b = append(b, `{"id":"cmpl-`...)
	}
	b = strconv.AppendInt(b, e.id, 10)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, e.created, 10)
	b = append(b, `,"model":`...)
	b = strconv.AppendQuote(b, e.model)
	return b
}

func (e *emitter) chunkObject() string {
	if e.chat {
		return "chat.completion.chunk"
	}
	return "text_completion"
}

func appendUsage(b []byte, p, c int) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(p), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(c), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(p+c), 10)
	return append(b, '}')
}

// chunk appends one streamed chunk: content text (may be empty) and an
// optional finish reason.
func (e *emitter) chunk(b []byte, text string, finish string) []byte {
	b = e.head(b, e.chunkObject())
	b = append(b, `,"choices":[{"index":0,`...)
	if e.chat {
		b = append(b, `"delta":{"role":"assistant","content":`...)
		b = strconv.AppendQuote(b, text)
		b = append(b, '}')
	} else {
		b = append(b, `"text":`...)
		b = strconv.AppendQuote(b, text)
		b = append(b, `,"logprobs":null`...)
	}
	b = append(b, `,"finish_reason":`...)
	if finish == "" {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendQuote(b, finish)
	}
	b = append(b, "}]"...)
	if e.sc.OllamaUsage {
		b = append(b, ',')
		b = appendUsage(b, 0, 0)
	}
	return append(b, '}')
}

func (e *emitter) json(w http.ResponseWriter, tokens, promptTokens int, finish string) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	object := "text_completion"
	if e.chat {
		object = "chat.completion"
	}
	b := e.head((*bp)[:0], object)
	text := strings.Repeat(e.tok, tokens)
	if e.chat {
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
		b = strconv.AppendQuote(b, text)
		b = append(b, '}')
	} else {
		b = append(b, `,"choices":[{"index":0,"text":`...)
		b = strconv.AppendQuote(b, text)
		b = append(b, `,"logprobs":null`...)
	}
	b = append(b, `,"finish_reason":`...)
	b = strconv.AppendQuote(b, finish)
	b = append(b, "}]"...)
	if !e.sc.NoUsage {
		b = append(b, ',')
		b = appendUsage(b, promptTokens, tokens)
	}
	b = append(b, '}')
	*bp = b
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func (e *emitter) stream(w http.ResponseWriter, r *http.Request, arrival time.Time, tokens, promptTokens int, finish string, usage bool) {
	sc := e.sc
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	eol := "\n"
	if sc.CRLF {
		eol = "\r\n"
	}
	if sc.CR {
		eol = "\r"
	}
	prefix := "data: "
	if sc.NoSpace {
		prefix = "data:"
	}
	ctx := r.Context()
	// send writes one event whose payload is p.
	send := func(p []byte) bool {
		ev := (*bp)[:0]
		if sc.Comments {
			ev = append(ev, ": keep-alive"...)
			ev = append(ev, eol...)
		}
		if sc.EmptyEvents {
			ev = append(ev, "data:"...)
			ev = append(ev, eol+eol...)
		}
		if sc.MultiLine {
			if i := strings.IndexByte(string(p), ','); i > 0 {
				ev = append(ev, prefix...)
				ev = append(ev, p[:i+1]...)
				ev = append(ev, eol...)
				p = p[i+1:]
			}
		}
		ev = append(ev, prefix...)
		ev = append(ev, p...)
		ev = append(ev, eol...)
		ev = append(ev, eol...)
		*bp = ev
		switch {
		case sc.Trickle:
			for i := range ev {
				if _, err := w.Write(ev[i : i+1]); err != nil {
					return false
				}
				fl.Flush()
			}
			return true
		case sc.SplitWrites:
			d := sc.SplitDelay
			if d == 0 {
				d = 2 * time.Millisecond
			}
			cuts := []int{0, len(ev) / 2, len(ev) - len(eol), len(ev)}
			for k := 0; k+1 < len(cuts); k++ {
				if _, err := w.Write(ev[cuts[k]:cuts[k+1]]); err != nil {
					return false
				}
				fl.Flush()
				if k+2 < len(cuts) {
					time.Sleep(d)
				}
			}
			return true
		}
		if _, err := w.Write(ev); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	var pb []byte
	for i := 1; i <= tokens; i++ {
		sleepUntil(arrival.Add(sc.TTFT + time.Duration(i-1)*sc.ITL))
		if ctx.Err() != nil {
			return
		}
		switch {
		case i == sc.MalformedAt:
			pb = append(pb[:0], `{"id":"cmpl-x","choices":[{"text":" broken"`...) // truncated JSON
		case i == sc.ErrorEventAt:
			pb = append(pb[:0], `{"error":{"object":"error","message":"scripted stream error","code":500}}`...)
		default:
			f := ""
			if i == tokens && !sc.SeparateFinish {
				f = finish
			}
			pb = e.chunk(pb[:0], e.tok, f)
		}
		if !send(pb) {
			return
		}
		if i == 1 {
			d := time.Since(arrival)
			e.h.mu.Lock()
			e.h.firstToken = append(e.h.firstToken, d)
			e.h.mu.Unlock()
		}
		if sc.DisconnectAfter > 0 && i == sc.DisconnectAfter {
			disconnect(w)
			return
		}
	}
	if sc.SeparateFinish {
		if !send(e.chunk(pb[:0], "", finish)) {
			return
		}
	}
	if usage {
		b := e.head(pb[:0], e.chunkObject())
		b = append(b, `,"choices":[],`...)
		b = appendUsage(b, promptTokens, tokens)
		b = append(b, '}')
		if !send(b) {
			return
		}
	}
	if !sc.NoDone {
		send(doneData)
	}
}

var doneData = []byte("[DONE]")

// disconnect aborts the connection with a TCP RST.
func disconnect(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
