package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// server is the OpenAI-compatible HTTP front of the engine, shaped like
// vLLM's api_server.
type server struct {
	eng         *engine
	names       []string // served model names; names[0] is reported
	root        string   // the model as given (vLLM's "root")
	maxModelLen int
	seed        int64
	tok         tokenizer
	fillerIDs   []int // tok's ids of the fillerWords tokens
	// promptDetails reports usage.prompt_tokens_details.cached_tokens
	// (--enable-prompt-tokens-details).
	promptDetails bool
	// devMode serves vLLM's development endpoints (/reset_prefix_cache),
	// as VLLM_SERVER_DEV_MODE=1 does.
	devMode bool
	ci      cacheInfo
	log     *logger
	created int64
	ids     atomic.Uint64
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": Version})
	})
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, true) })
	mux.HandleFunc("POST /tokenize", s.tokenize)
	mux.HandleFunc("POST /detokenize", s.detokenize)
	if s.devMode {
		mux.HandleFunc("POST /reset_prefix_cache", s.resetPrefixCache)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	})
	return s.accessLog(mux)
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes uvicorn's access line for each request except the
// /health and /metrics polls.
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if r.URL.Path == "/health" || r.URL.Path == "/metrics" {
			return
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.access(fmt.Sprintf("%s - %q %d %s", r.RemoteAddr, r.Method+" "+r.URL.RequestURI()+" "+r.Proto, sw.status, http.StatusText(sw.status)))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// apiError is vLLM's error body: {"error": {...}}.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    int     `json:"code"`
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]apiError{"error": {Message: msg, Type: typ, Code: status}})
}

// writeParamError is writeError naming the request field at fault, as
// vLLM's "param" (e.g. "model" for an unknown model).
func writeParamError(w http.ResponseWriter, status int, typ, msg, param string) {
	writeJSON(w, status, map[string]apiError{"error": {Message: msg, Type: typ, Param: &param, Code: status}})
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf(format, args...))
}

func (s *server) models(w http.ResponseWriter, r *http.Request) {
	type permission struct {
		ID                 string  `json:"id"`
		Object             string  `json:"object"`
		Created            int64   `json:"created"`
		AllowCreateEngine  bool    `json:"allow_create_engine"`
		AllowSampling      bool    `json:"allow_sampling"`
		AllowLogprobs      bool    `json:"allow_logprobs"`
		AllowSearchIndices bool    `json:"allow_search_indices"`
		AllowView          bool    `json:"allow_view"`
		AllowFineTuning    bool    `json:"allow_fine_tuning"`
		Organization       string  `json:"organization"`
		Group              *string `json:"group"`
		IsBlocking         bool    `json:"is_blocking"`
	}
	type card struct {
		ID          string       `json:"id"`
		Object      string       `json:"object"`
		Created     int64        `json:"created"`
		OwnedBy     string       `json:"owned_by"`
		Root        string       `json:"root"`
		Parent      *string      `json:"parent"`
		MaxModelLen int          `json:"max_model_len"`
		Permission  []permission `json:"permission"`
	}
	var data []card
	for i, name := range s.names {
		data = append(data, card{
			ID: name, Object: "model", Created: s.created, OwnedBy: "vllm", Root: s.root,
			MaxModelLen: s.maxModelLen,
			Permission: []permission{{
				ID: fmt.Sprintf("modelperm-sim%029d", i), Object: "model_permission", Created: s.created,
				AllowSampling: true, AllowLogprobs: true, AllowView: true, Organization: "*",
			}},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, s.names[0], s.ci, s.eng.snapshot())
}

type streamOptions struct {
	IncludeUsage         *bool `json:"include_usage"` // default true once stream_options is present
	ContinuousUsageStats bool  `json:"continuous_usage_stats"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// genRequest is the subset of vLLM's CompletionRequest / ChatCompletionRequest
// the simulator reads; other fields are accepted and ignored.
type genRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	MinTokens           int             `json:"min_tokens"`
	IgnoreEOS           bool            `json:"ignore_eos"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	N                   *int            `json:"n"`
	Seed                *int64          `json:"seed"`
	CacheSalt           *string         `json:"cache_salt"`
}

// parsePrompt returns the prompt's text (for the output seed) and, for a
// prompt of token ids, the ids (nil for text, tokenized once its length is
// known to fit).
func (s *server) parsePrompt(raw json.RawMessage) (string, []int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, errors.New("prompt is required")
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text, nil, nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return string(raw), ids, s.tok.checkIDs(ids)
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil && len(texts) == 1 {
		return texts[0], nil, nil
	}
	var idLists [][]int
	if json.Unmarshal(raw, &idLists) == nil && len(idLists) == 1 && len(idLists[0]) > 0 {
		return string(raw), idLists[0], s.tok.checkIDs(idLists[0])
	}
	return "", nil, errors.New("prompt must be a string, a list of token ids, or a list of one of those (the simulator serves one prompt per request)")
}

// chatTurns reads the messages' roles and text contents; text is all of
// them, for the output seed.
func chatTurns(msgs []chatMessage) (text string, turns []chatTurn, err error) {
	if len(msgs) == 0 {
		return "", nil, errors.New("messages must not be empty")
	}
	var all strings.Builder
	for _, m := range msgs {
		var c string
		raw := bytes.TrimSpace(m.Content)
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &c); err != nil {
				var parts []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				}
				if err := json.Unmarshal(raw, &parts); err != nil {
					return "", nil, errors.New("message content must be a string or a list of content parts")
				}
				var b strings.Builder
				for _, p := range parts {
					if p.Type == "text" {
						b.WriteString(p.Text)
					}
				}
				c = b.String()
			}
		}
		turns = append(turns, chatTurn{role: m.Role, content: c})
		all.WriteString(m.Role + "\x00" + c + "\x00")
	}
	return all.String(), turns, nil
}

func (s *server) servesModel(name string) bool {
	if name == "" {
		return true
	}
	for _, n := range s.names {
		if n == name {
			return true
		}
	}
	return false
}

type usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails *promptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

// promptTokensDetails is vLLM's PromptTokenUsageInfo.
type promptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// finalUsage is a finished request's usage; with
// --enable-prompt-tokens-details and a prefix cache hit it carries the
// cached prompt tokens, as vLLM (which leaves a zero hit out).
func (s *server) finalUsage(er *request, prompt, completion int) *usage {
	u := &usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
	if cached := s.eng.cachedTokens(er); s.promptDetails && cached > 0 {
		u.PromptTokensDetails = &promptTokensDetails{CachedTokens: cached}
	}
	return u
}

type delta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type message struct {
	Role      string `json:"role"`
	Content   string `json:"content"`
	ToolCalls []any  `json:"tool_calls"`
}

type choice struct {
	Index        int      `json:"index"`
	Text         *string  `json:"text,omitempty"`    // completions
	Delta        *delta   `json:"delta,omitempty"`   // chat stream
	Message      *message `json:"message,omitempty"` // chat
	Logprobs     any      `json:"logprobs"`
	FinishReason *string  `json:"finish_reason"`
	StopReason   any      `json:"stop_reason"`
}

type completion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
}

func (s *server) generate(w http.ResponseWriter, r *http.Request, chat bool) {
	var req genRequest
	if !decodeBody(w, r, &req) || !s.modelServed(w, req.Model) {
		return
	}
	var (
		text  string
		ids   []int
		turns []chatTurn
		err   error
	)
	if chat {
		text, turns, err = chatTurns(req.Messages)
	} else {
		text, ids, err = s.parsePrompt(req.Prompt)
	}
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	// Count first, tokenize once the prompt is known to fit: an over-long
	// prompt costs no token list.
	prompt := len(ids)
	switch {
	case chat:
		prompt = s.tok.countChat(turns)
	case ids == nil:
		prompt = s.tok.count(text)
	}
	if req.N != nil && *req.N != 1 {
		badRequest(w, "the simulator supports n=1 only, got n=%d", *req.N)
		return
	}
	if req.CacheSalt != nil && *req.CacheSalt == "" {
		badRequest(w, "Parameter 'cache_salt' must be a non-empty string if provided.")
		return
	}
	if req.StreamOptions != nil && !req.Stream {
		badRequest(w, "Stream options can only be defined when `stream=True`.")
		return
	}
	maxTokens := 16 // CompletionRequest's default
	switch {
	case chat && req.MaxCompletionTokens != nil:
		maxTokens = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		maxTokens = *req.MaxTokens
	case chat:
		maxTokens = s.maxModelLen - prompt // ChatCompletionRequest: what is left of the context
	}
	if prompt >= s.maxModelLen {
		badRequest(w, "This model's maximum context length is %d tokens. However, your request has %d input tokens. Please reduce the length of the input messages.", s.maxModelLen, prompt)
		return
	}
	if total := prompt + maxTokens; total > s.maxModelLen {
		badRequest(w, "This model's maximum context length is %d tokens. However, you requested %d output tokens and your prompt contains %d input tokens, for a total of %d tokens. Please reduce the length of the input prompt or the number of requested output tokens.",
			s.maxModelLen, maxTokens, prompt, total)
		return
	}
	if maxTokens < 1 {
		badRequest(w, "max_tokens must be at least 1, got %d.", maxTokens)
		return
	}
	if req.MinTokens < 0 || req.MinTokens > maxTokens {
		badRequest(w, "min_tokens must be greater than or equal to 0 and less than or equal to max_tokens=%d, got %d.", maxTokens, req.MinTokens)
		return
	}
	seed := s.seed
	if req.Seed != nil {
		seed = *req.Seed
	}
	h := promptHash(text, seed)
	target, reason := outputLength(h, maxTokens, req.MinTokens, req.IgnoreEOS)

	prefix, object := "cmpl", "text_completion"
	if chat {
		prefix, object = "chatcmpl", "chat.completion"
	}
	id := fmt.Sprintf("%s-%032x", prefix, s.ids.Add(1))
	// vLLM answers with its first served name, whatever alias was asked for.
	base := completion{ID: id, Object: object, Created: time.Now().Unix(), Model: s.names[0]}

	switch {
	case chat:
		ids = s.tok.encodeChat(turns, true, false)
	case ids == nil:
		ids = s.tok.encode(text)
	}
	salt := ""
	if req.CacheSalt != nil {
		salt = *req.CacheSalt
	}
	er := s.eng.submit(ids, salt, func(i int) int { return s.fillerIDs[fillerIndex(h, i)] }, target, reason)
	if req.Stream {
		s.stream(w, r, er, base, chat, h, prompt, req.StreamOptions)
		return
	}
	var out strings.Builder
	n, err := s.await(r, er, func(ev event) error { out.WriteString(fillerToken(h, ev.index)); return nil })
	switch {
	case errors.Is(err, errClientGone):
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	fr := reason
	c := choice{Index: 0, FinishReason: &fr}
	if chat {
		c.Message = &message{Role: "assistant", Content: out.String(), ToolCalls: []any{}}
	} else {
		t := out.String()
		c.Text = &t
	}
	base.Choices = []choice{c}
	base.Usage = s.finalUsage(er, prompt, n)
	writeJSON(w, http.StatusOK, base)
}

// Why a request ended without finishing.
var (
	errClientGone = errors.New("client went away")
	errShutdown   = errors.New("the engine is shutting down")
	errNoFit      = errors.New("the request needs more KV cache blocks than the pool holds")
)

// await delivers er's tokens to fn until the request finishes (nil), the
// client goes away or the engine stops or drops it (an error; the request
// is aborted). It returns the number of tokens delivered.
func (s *server) await(r *http.Request, er *request, fn func(event) error) (int, error) {
	n := 0
	for {
		select {
		case ev := <-er.events:
			if ev.failed {
				return n, errNoFit
			}
			n = ev.index
			if err := fn(ev); err != nil {
				s.eng.abort(er)
				return n, errClientGone
			}
			if ev.finished {
				return n, nil
			}
		case <-r.Context().Done():
			s.eng.abort(er)
			return n, errClientGone
		case <-s.eng.done:
			s.eng.abort(er)
			return n, errShutdown
		}
	}
}

func (s *server) stream(w http.ResponseWriter, r *http.Request, er *request, base completion, chat bool, h uint64, prompt int, so *streamOptions) {
	includeUsage := so != nil && (so.IncludeUsage == nil || *so.IncludeUsage)
	continuous := includeUsage && so.ContinuousUsageStats
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if chat {
		base.Object = "chat.completion.chunk"
	}
	send := func(c completion) error {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		return rc.Flush()
	}
	chunk := func(ch choice, completionTokens int) completion {
		c := base
		c.Choices = []choice{ch}
		if continuous {
			c.Usage = &usage{PromptTokens: prompt, CompletionTokens: completionTokens, TotalTokens: prompt + completionTokens}
		}
		return c
	}
	if chat {
		if send(chunk(choice{Delta: &delta{Role: "assistant"}}, 0)) != nil {
			s.eng.abort(er)
			return
		}
	}
	n, err := s.await(r, er, func(ev event) error {
		tok := fillerToken(h, ev.index)
		ch := choice{}
		if chat {
			ch.Delta = &delta{Content: tok}
		} else {
			ch.Text = &tok
		}
		if ev.finished {
			fr := er.reason
			ch.FinishReason = &fr
		}
		return send(chunk(ch, ev.index))
	})
	if err != nil {
		if !errors.Is(err, errClientGone) {
			// vLLM reports mid-stream failures as an error event, then [DONE].
			b, _ := json.Marshal(map[string]apiError{"error": {Message: err.Error(), Type: "InternalServerError", Code: 500}})
			fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", b)
			rc.Flush()
		}
		return
	}
	if includeUsage {
		c := base
		c.Choices = []choice{}
		c.Usage = s.finalUsage(er, prompt, n)
		if send(c) != nil {
			return
		}
	}
	io.WriteString(w, "data: [DONE]\n\n")
	rc.Flush()
}

// tokenizeRequest is vLLM's TokenizeCompletionRequest (prompt) or
// TokenizeChatRequest (messages).
type tokenizeRequest struct {
	Model                string        `json:"model"`
	Prompt               *string       `json:"prompt"`
	Messages             []chatMessage `json:"messages"`
	AddGenerationPrompt  *bool         `json:"add_generation_prompt"`
	ContinueFinalMessage bool          `json:"continue_final_message"`
	ReturnTokenStrs      bool          `json:"return_token_strs"`
}

// tokenize is POST /tokenize: {count, max_model_len, tokens, token_strs}.
// Prompts longer than max_model_len are tokenized, not refused, as vLLM
// does. add_special_tokens has no effect: the simulator's tokenizer has no
// BOS/EOS (an empty completion prompt is one token, as in completions).
func (s *server) tokenize(w http.ResponseWriter, r *http.Request) {
	var req tokenizeRequest
	if !decodeBody(w, r, &req) || !s.modelServed(w, req.Model) {
		return
	}
	var (
		ids  []int
		strs []string
	)
	switch {
	case req.Messages != nil:
		generation := req.AddGenerationPrompt == nil || *req.AddGenerationPrompt
		if generation && req.ContinueFinalMessage {
			badRequest(w, "Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
			return
		}
		_, turns, err := chatTurns(req.Messages)
		if err != nil {
			badRequest(w, "%v", err)
			return
		}
		ids = s.tok.encodeChat(turns, generation, req.ContinueFinalMessage)
	case req.Prompt != nil:
		ids = s.tok.encode(*req.Prompt)
		if req.ReturnTokenStrs {
			if *req.Prompt == "" {
				strs = []string{""}
			} else {
				s.tok.pieces(nil, &strs, *req.Prompt)
			}
		}
	default:
		badRequest(w, "either prompt or messages is required")
		return
	}
	if req.ReturnTokenStrs && strs == nil {
		strs = make([]string, len(ids))
		for i, id := range ids {
			strs[i] = spell(id)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(ids), "max_model_len": s.maxModelLen, "tokens": ids, "token_strs": strs})
}

// detokenize is POST /detokenize: {model, tokens} → {prompt}; ids outside
// the vocabulary are a 400.
func (s *server) detokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string `json:"model"`
		Tokens []int  `json:"tokens"`
	}
	if !decodeBody(w, r, &req) || !s.modelServed(w, req.Model) {
		return
	}
	if req.Tokens == nil {
		badRequest(w, "tokens is required")
		return
	}
	if err := s.tok.checkIDs(req.Tokens); err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"prompt": s.tok.decode(req.Tokens)})
}

// resetPrefixCache is POST /reset_prefix_cache (vLLM serves it with
// VLLM_SERVER_DEV_MODE=1): 200 once the cache is empty, 409 while
// requests hold blocks (unless ?reset_running_requests=true, which
// preempts them first).
func (s *server) resetPrefixCache(w http.ResponseWriter, r *http.Request) {
	s.log.info(procAPI, "api_router.py:41", "Resetting prefix cache...")
	running := r.URL.Query().Get("reset_running_requests")
	if !s.eng.resetPrefixCache(strings.EqualFold(running, "true") || running == "1") {
		writeJSON(w, http.StatusConflict, map[string]string{"detail": "Prefix cache reset failed."})
		return
	}
	w.WriteHeader(http.StatusOK)
}

// decodeBody decodes r's JSON body (at most 64 MiB) into v; on a problem it
// has answered 400 as vLLM does and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(v); err != nil {
		badRequest(w, "invalid JSON body: %v", err)
		return false
	}
	return true
}

// modelServed reports whether the server serves model; if not, it has
// answered 404 as vLLM does.
func (s *server) modelServed(w http.ResponseWriter, model string) bool {
	if !s.servesModel(model) {
		writeParamError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", model), "model")
		return false
	}
	return true
}
