package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/runexp/runexp/internal/load/sse"
)

// Error classes recorded in RequestResult.ErrorClass and counted in
// Summary.ErrorsByClass.
const (
	ClassHTTP4xx      = "http_4xx"      // response status 400-499 (HTTPStatus keeps it; 429 included)
	ClassHTTP5xx      = "http_5xx"      // response status 500-599
	ClassRefused      = "refused"       // connection refused
	ClassReset        = "reset"         // connection reset / closed mid-response (incl. truncated chunked body)
	ClassTimeout      = "timeout"       // RequestTimeout expired
	ClassMalformedSSE = "malformed_sse" // an SSE chunk is not valid JSON (or an event is too large)
	ClassNoDone       = "no_done"       // the stream ended cleanly but without "data: [DONE]"
	ClassOther        = "other"         // anything else (error event in stream, bad JSON body, 3xx, ...)
	ClassCanceled     = "canceled"      // the run's context was cancelled while the request was in flight
	// ClassDropped marks a rate-mode request that was never sent because
	// MaxInFlight requests were in flight at its intended time. It is counted
	// in Summary.Dropped, not as a failure.
	ClassDropped = "dropped"
)

// Token sources recorded in RequestResult.TokensSource.
const (
	TokensUsage  = "usage"  // server-reported usage
	TokensChunks = "chunks" // no usage arrived: completion tokens = content chunks, prompt tokens 0
	TokensNone   = "none"   // non-streaming response without usage
)

const (
	maxErrBody   = 512     // bytes of an error response kept in RequestResult.Error
	maxDrain     = 1 << 16 // bytes read past [DONE] / an error body to keep the connection
	maxBody      = 16 << 20
	maxErrString = 600
)

// client performs requests for one Run; it is safe for concurrent use.
type client struct {
	rt      *http.Transport
	tmpl    *http.Request
	bodies  []promptBody
	at      []time.Duration // replay: each request's send offset
	metrics *http.Client    // scrapes /metrics between modes
	// Multi-turn sessions (nil otherwise): request indices by session, each
	// request's user message and max_tokens, the think time, and the run's
	// configuration, to build each later turn's body from the history.
	sessions  [][]int
	prompts   []string
	outputLen []int
	think     thinkTime
	cfg       Config
	stream    bool
	apiKey    string
	timeout   time.Duration
	tokenCap  int

	// meter counts the current mode's measured requests (nil during
	// warm-up or without OnProgress); set only while no request is in
	// flight.
	meter *meter

	base context.Context // the run's context; workers' contexts derive from it
	t0   time.Time       // origin of worker deadlines (monotonic)
	stop chan struct{}   // stops the timeout sweeper
	mu   sync.Mutex
	all  []*worker // every worker ever created (the sweeper's list)
	free []*worker // idle workers
}

type promptBody struct {
	b            []byte
	getBody      func() (io.ReadCloser, error)
	promptTokens int // intended, as the server counts them; 0 unknown
}

// worker holds one request goroutine's state, reused across requests.
//
// Request timeouts do not allocate a context and a timer per request: each
// worker keeps one cancellable context for as long as no request of it
// times out, and a sweeper goroutine cancels it (with cause
// errRequestTimeout) when the current request's deadline has passed.
type worker struct {
	sse     *sse.Reader
	buf     []byte
	ch      chunk
	results []RequestResult // rate mode: results of the requests this worker ran
	// answer, when not nil, collects the raw (JSON-escaped) text of the
	// response (multi-turn sessions carry it into the next turn).
	answer []byte

	ctx      context.Context // written only by the worker's owner (under mu)
	cancel   context.CancelCauseFunc
	mu       sync.Mutex   // serialises the sweeper's cancel with the owner's ctx renewal
	deadline atomic.Int64 // ns since client.t0 of the current request's deadline; 0 idle; -1 timed out
}

var errRequestTimeout = errors.New("request timeout")

// newTransport returns the one HTTP/1.1 transport shared by all requests of
// a run, sized so that conns connections stay open between requests.
func newTransport(conns int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil, // a load generator talks to its target directly
		DialContext:         d.DialContext,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
		MaxIdleConns:        0,                                                      // no global limit
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // a gzip layer would buffer the stream
		TLSHandshakeTimeout: 10 * time.Second,
		WriteBufferSize:     4 << 10,
		ReadBufferSize:      8 << 10,
	}
}

// requestBody builds the JSON body for one request.
func requestBody(cfg Config, r Request) ([]byte, error) {
	body := make(map[string]any, len(cfg.Extra)+6)
	body["model"] = cfg.Model
	body["max_tokens"] = cfg.MaxTokens
	if r.OutputLen > 0 {
		body["max_tokens"] = r.OutputLen
	}
	switch {
	case r.Messages != nil:
		body["messages"] = r.Messages
	case cfg.API == APIChat:
		body["messages"] = []Message{{Role: "user", Content: r.Prompt}}
	default:
		body["prompt"] = r.Prompt
	}
	if cfg.Stream {
		body["stream"] = true
		body["stream_options"] = map[string]any{"include_usage": true}
	}
	for k, v := range cfg.Extra {
		body[k] = v
	}
	return json.Marshal(body)
}

func newClient(ctx context.Context, cfg Config, reqs []Request, conns int) (*client, error) {
	path := "/v1/completions"
	if cfg.API == APIChat {
		path = "/v1/chat/completions"
	}
	tmpl, err := http.NewRequest(http.MethodPost, cfg.BaseURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	tmpl.Header.Set("Content-Type", "application/json")
	tmpl.Header.Set("User-Agent", "runexp-load")
	if cfg.Stream {
		tmpl.Header.Set("Accept", "text/event-stream")
	} else {
		tmpl.Header.Set("Accept", "application/json")
	}
	if cfg.APIKey != "" {
		tmpl.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	c := &client{
		rt:       newTransport(conns),
		tmpl:     tmpl,
		stream:   cfg.Stream,
		apiKey:   cfg.APIKey,
		timeout:  cfg.RequestTimeout,
		tokenCap: min(cfg.MaxTokens, 4096),
		base:     ctx,
		t0:       time.Now(),
		stop:     make(chan struct{}),
	}
	c.metrics = &http.Client{Transport: newTransport(1)}
	c.bodies = make([]promptBody, len(reqs))
	for i, r := range reqs {
		b, err := requestBody(cfg, r)
		if err != nil {
			return nil, fmt.Errorf("request body: %w", err)
		}
		c.bodies[i] = promptBody{b: b, getBody: bodyReader(b), promptTokens: r.PromptTokens}
		c.at = append(c.at, r.At)
		if r.OutputLen > 0 {
			c.tokenCap = max(c.tokenCap, min(r.OutputLen, 4096))
		}
	}
	if c.sessions = sessionsOf(reqs); c.sessions != nil {
		c.cfg = cfg
		for _, r := range reqs {
			c.prompts = append(c.prompts, r.Prompt)
			c.outputLen = append(c.outputLen, r.OutputLen)
		}
		if d := cfg.Dataset; d != nil {
			c.think = thinkTime{d: d.ThinkTime, exponential: d.Think == ThinkExponential, seed: d.Seed}
		}
	}
	go c.sweep(min(max(c.timeout/50, time.Millisecond), 50*time.Millisecond))
	return c, nil
}

// bodyReader returns a GetBody for b: a *bytes.Reader body lets net/http
// write headers and body in one write (it flushes headers separately for
// unknown readers).
func bodyReader(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func (c *client) getWorker() *worker {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.free); n > 0 {
		w := c.free[n-1]
		c.free = c.free[:n-1]
		return w
	}
	w := &worker{sse: sse.NewReaderSize(nil, 8<<10), buf: make([]byte, 0, 4<<10)}
	w.ctx, w.cancel = context.WithCancelCause(c.base)
	c.all = append(c.all, w)
	return w
}

// workers returns every worker created so far; call it only when no request
// is in flight.
func (c *client) workers() []*worker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all
}

func (c *client) putWorker(w *worker) {
	w.sse.Reset(nil)
	c.mu.Lock()
	c.free = append(c.free, w)
	c.mu.Unlock()
}

// close stops the sweeper, releases every worker's context and closes idle
// connections.
func (c *client) close() {
	close(c.stop)
	c.mu.Lock()
	for _, w := range c.all {
		w.mu.Lock()
		w.cancel(context.Canceled)
		w.mu.Unlock()
	}
	c.mu.Unlock()
	c.rt.CloseIdleConnections()
	c.metrics.CloseIdleConnections()
}

// sweep cancels the context of every worker whose request is past its
// deadline, checking every tick (timeout/50, within [1ms, 50ms]).
func (c *client) sweep(tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		now := int64(time.Since(c.t0))
		c.mu.Lock()
		all := c.all // append-only: the prefix stays valid
		c.mu.Unlock()
		for _, w := range all {
			d := w.deadline.Load()
			if d <= 0 || now < d {
				continue
			}
			w.mu.Lock()
			if w.deadline.CompareAndSwap(d, -1) {
				w.cancel(errRequestTimeout)
			}
			w.mu.Unlock()
		}
	}
}

// begin arms the worker's deadline, timeout after start (the request's
// recorded Start, so a timed-out request's E2EL is never below the timeout),
// and returns the request context.
func (c *client) begin(w *worker, start time.Time) context.Context {
	w.deadline.Store(int64(start.Sub(c.t0) + c.timeout))
	return w.ctx
}

// end disarms the deadline; if the sweeper fired, the worker gets a fresh
// context for its next request.
func (c *client) end(w *worker) {
	if w.deadline.Swap(0) == -1 {
		w.mu.Lock()
		w.ctx, w.cancel = context.WithCancelCause(c.base)
		w.mu.Unlock()
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// do sends request idx and fills r (all fields except Mode, Index,
// IntendedStart and LagMs, which the caller owns; LagMs is derived here
// from Start).
func (c *client) do(w *worker, pb *promptBody, r *RequestResult) {
	if m := c.meter; m != nil {
		m.inFlight.Add(1)
		defer m.ended(r)
	}
	c.send(w, pb, r)
}

// body is the prepared body of request idx (the bodies repeat in order).
func (c *client) body(idx int) *promptBody { return &c.bodies[idx%len(c.bodies)] }

// send sends the request of body pb and fills r as do does.
func (c *client) send(w *worker, pb *promptBody, r *RequestResult) {
	r.Start = time.Now()
	ctx := c.begin(w, r.Start)
	defer c.end(w)
	r.IntendedPromptTokens = pb.promptTokens
	req := c.tmpl.WithContext(ctx)
	req.Body, _ = pb.getBody()
	req.GetBody = pb.getBody
	req.ContentLength = int64(len(pb.b))

	if !r.IntendedStart.IsZero() {
		r.LagMs = ms(r.Start.Sub(r.IntendedStart))
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		r.E2ELms = ms(time.Since(r.Start))
		c.fail(r, c.classify(ctx, err), err.Error())
		return
	}
	defer resp.Body.Close()
	r.HTTPStatus = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.httpError(w, r, resp)
		return
	}
	if c.stream {
		c.readStream(ctx, w, r, resp.Body)
	} else {
		c.readJSON(ctx, w, r, resp.Body)
	}
}

func (c *client) httpError(w *worker, r *RequestResult, resp *http.Response) {
	b := w.buf[:min(cap(w.buf), maxErrBody)]
	n, _ := io.ReadFull(resp.Body, b)
	body := strings.TrimSpace(string(b[:n]))
	drain(resp.Body, w.buf[:cap(w.buf)])
	r.E2ELms = ms(time.Since(r.Start))
	class := ClassOther
	switch resp.StatusCode / 100 {
	case 4:
		class = ClassHTTP4xx
	case 5:
		class = ClassHTTP5xx
	}
	msg := "HTTP " + strconv.Itoa(resp.StatusCode)
	if body != "" {
		msg += ": " + body
	}
	c.fail(r, class, msg)
}

// drain reads what is left of a body (bounded) so the connection can be
// reused.
func drain(body io.Reader, scratch []byte) {
	for total := 0; total < maxDrain; {
		n, err := body.Read(scratch)
		total += n
		if err != nil {
			return
		}
	}
}

func (c *client) readStream(ctx context.Context, w *worker, r *RequestResult, body io.Reader) {
	w.sse.Reset(body)
	if c.tokenCap > 1 {
		r.ITLms = make([]float64, 0, c.tokenCap-1)
	}
	var last time.Time
	contentChunks := 0
	usage := false
	for {
		data, err := w.sse.Next()
		now := time.Now()
		if err != nil {
			r.E2ELms = ms(now.Sub(r.Start))
			switch {
			case errors.Is(err, io.EOF):
				c.fail(r, ClassNoDone, "stream ended without data: [DONE]")
			case errors.Is(err, sse.ErrEventTooLarge):
				c.fail(r, ClassMalformedSSE, err.Error())
			default:
				c.fail(r, c.classify(ctx, err), err.Error())
			}
			break
		}
		if isDone(data) {
			r.E2ELms = ms(now.Sub(r.Start))
			drain(body, w.buf[:cap(w.buf)])
			break
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue // an empty data event carries nothing (a keep-alive)
		}
		ch := &w.ch
		if perr := parseChunk(data, ch); perr != nil {
			r.E2ELms = ms(now.Sub(r.Start))
			c.fail(r, ClassMalformedSSE, "malformed JSON in SSE event: "+snippet(data))
			break
		}
		if ch.isError {
			r.E2ELms = ms(now.Sub(r.Start))
			c.fail(r, ClassOther, "error event in stream: "+snippet(orBytes(ch.errMsg, data)))
			break
		}
		if ch.choices == 0 {
			// The usage chunk. Ollama also puts an all-zero usage in every
			// content chunk, so usage is read only here.
			if ch.hasUsage {
				usage = true
				r.PromptTokens, r.CompletionTokens = ch.promptTokens, ch.complTokens
			}
			continue
		}
		if len(ch.finish) > 0 {
			r.FinishReason = finishString(ch.finish)
		}
		if w.answer != nil {
			w.answer = append(w.answer, ch.text...)
		}
		if ch.content {
			contentChunks++
			if contentChunks == 1 {
				r.TTFTms = ms(now.Sub(r.Start))
			} else {
				r.ITLms = append(r.ITLms, ms(now.Sub(last)))
			}
			last = now
		}
	}
	if usage {
		r.TokensSource = TokensUsage
	} else {
		r.TokensSource = TokensChunks
		r.CompletionTokens = contentChunks
	}
}

func (c *client) readJSON(ctx context.Context, w *worker, r *RequestResult, body io.Reader) {
	buf := w.buf[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxBody {
				r.E2ELms = ms(time.Since(r.Start))
				c.fail(r, ClassOther, "response body larger than 16 MiB")
				return
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.buf = buf[:0]
			r.E2ELms = ms(time.Since(r.Start))
			c.fail(r, c.classify(ctx, err), err.Error())
			return
		}
	}
	w.buf = buf[:0]
	r.E2ELms = ms(time.Since(r.Start))
	ch := &w.ch
	if err := parseChunk(buf, ch); err != nil {
		c.fail(r, ClassOther, "malformed JSON response: "+snippet(buf))
		return
	}
	if ch.isError || ch.choices == 0 {
		c.fail(r, ClassOther, "response without choices: "+snippet(orBytes(ch.errMsg, buf)))
		return
	}
	r.FinishReason = finishString(ch.finish)
	if w.answer != nil {
		w.answer = append(w.answer, ch.text...)
	}
	if ch.hasUsage {
		r.TokensSource = TokensUsage
		r.PromptTokens, r.CompletionTokens = ch.promptTokens, ch.complTokens
	} else {
		r.TokensSource = TokensNone
	}
}

func isDone(b []byte) bool { return string(bytes.TrimSpace(b)) == "[DONE]" }

func orBytes(a, b []byte) []byte {
	if len(a) > 0 {
		return a
	}
	return b
}

func snippet(b []byte) string {
	const n = 160
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// fail records an error, with the API key redacted from the message.
func (c *client) fail(r *RequestResult, class, msg string) {
	msg = redactIn(msg, c.apiKey)
	if len(msg) > maxErrString {
		msg = msg[:maxErrString] + "..."
	}
	r.ErrorClass, r.Error = class, msg
}

// redactIn hides the key in msg. A server may echo the key whole, cut (error
// bodies are cut to maxErrBody or a snippet before they get here), broken
// over lines, or JSON-escaped (a quote in the key arrives as backslash-quote
// in a JSON body). So every run of msg made of redactWindow-byte pieces of
// the key, in any of its spellings, is replaced, and so is a shorter piece
// of the key's start left at the end of a cut body. Pieces under 4 bytes
// reveal nothing and would match too often.
func redactIn(msg, key string) string {
	if key == "" {
		return msg
	}
	hide := make([]bool, len(msg))
	for _, form := range keyForms(key) {
		markWindows(hide, msg, form)
	}
	body := strings.TrimSuffix(msg, "...")
	for n := min(len(key)-1, len(body)); n >= 4; n-- {
		if strings.HasSuffix(body, key[:n]) {
			for i := len(body) - n; i < len(body); i++ {
				hide[i] = true
			}
			break
		}
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		if !hide[i] {
			b.WriteByte(msg[i])
			i++
			continue
		}
		for i < len(msg) && hide[i] {
			i++
		}
		b.WriteString(redacted)
	}
	return b.String()
}

// redactWindow is the shortest piece of the key that redactIn hides
// wherever it appears.
const redactWindow = 8

// keyForms are the spellings of the key a response may echo: as sent, and
// as JSON encoders write it (with and without HTML escaping).
func keyForms(key string) []string {
	forms := []string{key}
	for _, html := range []bool{false, true} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		enc.Encode(key) // a string always encodes
		q := strings.TrimSpace(b.String())
		if esc := q[1 : len(q)-1]; !slices.Contains(forms, esc) {
			forms = append(forms, esc)
		}
	}
	return forms
}

// markWindows marks every byte of msg covered by an occurrence of the whole
// form or of any redactWindow-byte piece of it; a longer echoed piece is
// the union of its windows.
func markWindows(hide []bool, msg, form string) {
	w := min(redactWindow, len(form))
	for j := 0; j+w <= len(form); j++ {
		piece := form[j : j+w]
		for from := 0; ; {
			k := strings.Index(msg[from:], piece)
			if k < 0 {
				break
			}
			for i := from + k; i < from+k+w; i++ {
				hide[i] = true
			}
			from += k + 1
		}
	}
}

// classify maps a transport or body-read error to an error class.
func (c *client) classify(ctx context.Context, err error) string {
	switch {
	case c.base.Err() != nil:
		return ClassCanceled
	case context.Cause(ctx) == errRequestTimeout || errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ClassReset
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	return ClassOther
}
