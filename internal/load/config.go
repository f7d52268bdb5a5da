package load

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// API names accepted in Config.API.
const (
	APICompletions = "completions" // POST {BaseURL}/v1/completions
	APIChat        = "chat"        // POST {BaseURL}/v1/chat/completions
)

// Mode kinds accepted in Mode.Kind.
const (
	KindSequential = "sequential"
	KindConcurrent = "concurrent"
	KindRate       = "rate"
)

// Arrival processes accepted in Mode.Arrival.
const (
	ArrivalConstant = "constant"
	ArrivalPoisson  = "poisson"
)

// Defaults applied by Run (and reported by Validate's callers).
const (
	DefaultRequestTimeout = 5 * time.Minute
	DefaultMaxInFlight    = 1024 // rate mode cap when Mode.MaxInFlight is 0
	DefaultMaxTokens      = 32
)

// Config describes one load run: a target, a request shape and the modes to
// run in order. The zero values of optional fields select the defaults
// documented on each field.
type Config struct {
	BaseURL   string         // e.g. http://127.0.0.1:8000 (no /v1)
	API       string         // "completions" (default) | "chat"
	Model     string         // required
	APIKey    string         // sent as "Authorization: Bearer"; redacted everywhere else
	Stream    bool           // SSE streaming with stream_options.include_usage
	MaxTokens int            // max_tokens; default DefaultMaxTokens
	Extra     map[string]any // merged into the JSON body (ignore_eos, min_tokens, temperature, stream_options...)
	Prompts   Prompts        // default: the seed's fixed prompt
	Warmup    int            // requests sent (closed loop) before each mode, excluded from results
	// OnModeStart, if not nil, is called with a mode's name after its
	// warm-up, just before its first measured request (telemetry marks
	// mode windows with it, so warm-up traffic stays out of them).
	OnModeStart func(mode string)

	RequestTimeout time.Duration // whole request incl. stream; default DefaultRequestTimeout
	Modes          []Mode        // run in order against the same server
	ErrorThreshold float64       // tolerated failed/(completed+failed) per mode; 0 = any error fails
}

// Mode is one measured phase.
type Mode struct {
	Name        string        // label in results; default Kind
	Kind        string        // "sequential" | "concurrent" | "rate"
	Requests    int           // N (all kinds); for rate, 0 means "use Duration"
	Concurrency int           // concurrent: C requests in flight (closed loop)
	Rate        float64       // rate: requests per second (open loop)
	Arrival     string        // rate: "constant" (default) | "poisson"
	Seed        int64         // rate: seed of the poisson schedule
	Duration    time.Duration // rate: schedule length when Requests is 0; concurrent/sequential: stop issuing after it (0 = no limit)
	MaxInFlight int           // rate: cap on requests in flight; beyond it a request is dropped; default DefaultMaxInFlight
}

// label returns the mode's name in results.
func (m Mode) label() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Kind
}

// inFlight is the most requests this mode can have in flight.
func (m Mode) inFlight() int {
	switch m.Kind {
	case KindConcurrent:
		return m.Concurrency
	case KindRate:
		if m.MaxInFlight > 0 {
			return m.MaxInFlight
		}
		return DefaultMaxInFlight
	}
	return 1
}

// reservedBody are body fields the engine owns; Extra may not set them.
var reservedBody = []string{"model", "prompt", "messages", "stream", "max_tokens"}

// Validate reports every problem in c at once (errors.Join). It does not
// touch the network; prompt files are checked for existence by Run.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.BaseURL == "" {
		add("base_url: required")
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("base_url: %q is not an http(s) URL", c.BaseURL)
	} else if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1") {
		add("base_url: %q must not end in /v1 (the engine appends /v1/...)", c.BaseURL)
	}
	switch c.API {
	case "", APICompletions, APIChat:
	default:
		add("api: %q is not one of %q, %q", c.API, APICompletions, APIChat)
	}
	if c.Model == "" {
		add("model: required")
	}
	if c.MaxTokens < 0 {
		add("max_tokens: %d must be >= 0", c.MaxTokens)
	}
	for _, k := range reservedBody {
		if _, ok := c.Extra[k]; ok {
			add("extra: %q is set by the engine and cannot be overridden", k)
		}
	}
	if err := c.Prompts.validate(); err != nil {
		add("prompts: %v", err)
	}
	if c.Warmup < 0 {
		add("warmup: %d must be >= 0", c.Warmup)
	}
	if c.RequestTimeout < 0 {
		add("request_timeout: %v must be >= 0", c.RequestTimeout)
	}
	if c.ErrorThreshold < 0 || c.ErrorThreshold > 1 {
		add("error_threshold: %v must be within [0, 1]", c.ErrorThreshold)
	}
	if len(c.Modes) == 0 {
		add("modes: at least one mode is required")
	}
	seen := map[string]bool{}
	for i, m := range c.Modes {
		p := fmt.Sprintf("modes[%d]", i)
		if m.Name != "" {
			p = fmt.Sprintf("modes[%d] (%s)", i, m.Name)
		}
		if seen[m.label()] {
			add("%s: duplicate mode name %q (set name)", p, m.label())
		}
		seen[m.label()] = true
		if m.Requests < 0 {
			add("%s: requests %d must be >= 0", p, m.Requests)
		}
		if m.Duration < 0 {
			add("%s: duration %v must be >= 0", p, m.Duration)
		}
		switch m.Kind {
		case KindSequential, KindConcurrent:
			if m.Requests == 0 && m.Duration == 0 {
				add("%s: requests or duration is required", p)
			}
			if m.Kind == KindConcurrent && m.Concurrency < 1 {
				add("%s: concurrency %d must be >= 1", p, m.Concurrency)
			}
			if m.Kind == KindSequential && m.Concurrency > 1 {
				add("%s: sequential mode has concurrency 1 (got %d)", p, m.Concurrency)
			}
			if m.Rate != 0 || m.Arrival != "" || m.MaxInFlight != 0 {
				add("%s: rate, arrival and max_in_flight apply to kind rate only", p)
			}
		case KindRate:
			if !(m.Rate > 0) {
				add("%s: rate %v must be > 0", p, m.Rate)
			}
			if m.Requests == 0 && m.Duration == 0 {
				add("%s: requests or duration is required", p)
			}
			switch m.Arrival {
			case "", ArrivalConstant, ArrivalPoisson:
			default:
				add("%s: arrival %q is not one of %q, %q", p, m.Arrival, ArrivalConstant, ArrivalPoisson)
			}
			if m.MaxInFlight < 0 {
				add("%s: max_in_flight %d must be >= 0", p, m.MaxInFlight)
			}
			if m.Concurrency != 0 {
				add("%s: concurrency applies to kind concurrent; use max_in_flight", p)
			}
			if m.Rate > 0 && m.Requests == 0 && m.Duration > 0 && m.Rate*m.Duration.Seconds() > 1e7 {
				add("%s: rate x duration schedules more than 10M requests", p)
			}
		case "":
			add("%s: kind is required (%s | %s | %s)", p, KindSequential, KindConcurrent, KindRate)
		default:
			add("%s: kind %q is not one of %s | %s | %s", p, m.Kind, KindSequential, KindConcurrent, KindRate)
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.API == "" {
		c.API = APICompletions
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// redacted is the APIKey placeholder in every printed or encoded form.
const redacted = "[REDACTED]"

// String prints the configuration with the API key redacted, so that
// fmt's %v and %+v never show it.
func (c Config) String() string {
	c.APIKey = redactKey(c.APIKey)
	type plain Config // drops the String method
	return fmt.Sprintf("%+v", plain(c))
}

// GoString is String for %#v.
func (c Config) GoString() string { return c.String() }

// MarshalJSON encodes the configuration with the API key redacted.
func (c Config) MarshalJSON() ([]byte, error) {
	c.APIKey = redactKey(c.APIKey)
	type plain Config
	return jsonMarshal(plain(c))
}

func redactKey(k string) string {
	if k == "" {
		return ""
	}
	return redacted
}
