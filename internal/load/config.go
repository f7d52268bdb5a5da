package load

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/runexp/runexp/spec"
)

// API is the OpenAI-compatible endpoint requests go to.
type API string

// The APIs.
const (
	APICompletions API = "completions" // POST {BaseURL}/v1/completions
	APIChat        API = "chat"        // POST {BaseURL}/v1/chat/completions
)

// Values lists the APIs (spec.Enum: the spec decoder, schema and docs use it).
func (API) Values() []string { return []string{string(APICompletions), string(APIChat)} }

// ModeKind is how a mode issues its requests.
type ModeKind string

// The mode kinds.
const (
	KindSequential ModeKind = "sequential" // one request at a time
	KindConcurrent ModeKind = "concurrent" // closed loop: Concurrency requests in flight
	KindRate       ModeKind = "rate"       // open loop: Rate requests per second
	KindSearch     ModeKind = "search"     // probes of concurrency or rate for the highest level meeting SLOs
	KindReplay     ModeKind = "replay"     // open loop at a trace dataset's own send times
)

// Values lists the mode kinds.
func (ModeKind) Values() []string {
	return []string{string(KindSequential), string(KindConcurrent), string(KindRate), string(KindSearch), string(KindReplay)}
}

// SearchOver is the load level a search varies.
type SearchOver string

// The levels a search varies.
const (
	OverConcurrency SearchOver = "concurrency" // closed loop, integer levels
	OverRate        SearchOver = "rate"        // open loop, requests per second
)

// Values lists the search levels.
func (SearchOver) Values() []string { return []string{string(OverConcurrency), string(OverRate)} }

// SearchMax is a search's upper bound: a number, or "auto" (the point's
// recorded max_concurrency, else predicted_max_concurrency, else
// DefaultSearchMax; see ResolveSearchMax).
type SearchMax string

// SearchMaxAuto is the SearchMax taken from the point's KV capacity.
const SearchMaxAuto SearchMax = "auto"

// Arrival is the arrival process of a rate mode.
type Arrival string

// The arrival processes.
const (
	ArrivalConstant Arrival = "constant" // evenly spaced (the default)
	ArrivalPoisson  Arrival = "poisson"  // exponential gaps with mean 1/Rate
)

// Values lists the arrival processes.
func (Arrival) Values() []string { return []string{string(ArrivalConstant), string(ArrivalPoisson)} }

var (
	_ spec.Enum = API("")
	_ spec.Enum = ModeKind("")
	_ spec.Enum = Arrival("")
	_ spec.Enum = SearchOver("")
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
	API       API            // default APICompletions
	Model     string         // required
	APIKey    string         // sent as "Authorization: Bearer"; redacted everywhere else
	Stream    bool           // SSE streaming with stream_options.include_usage
	MaxTokens int            // max_tokens; default DefaultMaxTokens
	Extra     map[string]any // merged into the JSON body (ignore_eos, min_tokens, temperature, stream_options...)
	Prompts   Prompts        // default: the seed's fixed prompt
	// Dataset, instead of Prompts, makes the requests (see Dataset);
	// their lengths are fitted with Counter, or with what DetectCounter
	// finds on the server when Counter is nil.
	Dataset *Dataset
	Counter Counter
	// Prepared, when not nil, are the requests to send (PrepareRequests'
	// answer), so that a dataset is built once for several runs.
	Prepared []Request
	// MetricsPath, when set (vLLM: "/metrics"), is scraped before and
	// after each mode for vLLM's prefix-cache counters
	// (Summary.PrefixCacheHitRate).
	MetricsPath string
	Warmup      int // requests sent (closed loop) before each mode, excluded from results
	// OnModeStart, if not nil, is called with a mode's name after its
	// warm-up, just before its first measured request (telemetry marks
	// mode windows with it, so warm-up traffic stays out of them).
	OnModeStart func(mode string)
	// OnProgress, if not nil, is called every ProgressInterval (default
	// DefaultProgressInterval) while a mode runs, and once more when it
	// ends, from one goroutine (ProgressPrinter writes it as a line).
	OnProgress       func(Progress)
	ProgressInterval time.Duration

	RequestTimeout time.Duration // whole request incl. stream; default DefaultRequestTimeout
	Modes          []Mode        // run in order against the same server
	ErrorThreshold float64       // tolerated failed/(completed+failed) per mode; 0 = any error fails
	SLO            *SLO          // SLOs of every mode without its own
}

// Mode is one measured phase. A load step's modes decode straight into it,
// so its yaml keys are the spec's and its JSON is the plan's.
type Mode struct {
	Name        string        `yaml:"name" json:"name,omitempty" doc:"label in results (default: the kind); names recorded values <name>_s, <name>_output_throughput, ..."`
	Kind        ModeKind      `yaml:"kind" json:"kind" doc:"sequential (one at a time), concurrent (closed loop) or rate (open loop)"`
	Requests    int           `yaml:"requests" json:"requests" doc:"number of requests (rate: 0 means use duration)"`
	Concurrency int           `yaml:"concurrency" json:"concurrency,omitempty" list:"expand" doc:"concurrent: requests in flight (closed loop); a list runs one mode per value"`
	Rate        float64       `yaml:"rate" json:"rate,omitempty" list:"expand" doc:"rate: requests per second (open loop); a list runs one mode per value"`
	Arrival     Arrival       `yaml:"arrival" json:"arrival,omitempty" doc:"rate: constant (default) or poisson"`
	Seed        int64         `yaml:"seed" json:"seed,omitempty" doc:"rate: seed of the poisson schedule"`
	Duration    time.Duration `yaml:"duration" json:"duration,omitempty" doc:"rate: schedule length when requests is 0"`
	MaxInFlight int           `yaml:"max_in_flight" json:"max_in_flight,omitempty" doc:"rate: cap on requests in flight; beyond it requests are dropped, not delayed"`
	// Burstiness shapes poisson arrivals as vLLM's --burstiness does: gaps
	// are Gamma(shape=Burstiness, scale=1/(Rate*Burstiness)), so the mean
	// rate stays Rate; 0 or 1 is Poisson, below 1 burstier, above 1 more
	// even. Not a spec key yet (`runexp load --burstiness`).
	Burstiness float64 `yaml:"-" json:"burstiness,omitempty"`
	// WaitForSlot makes a rate mode hold a request whose intended time
	// comes while MaxInFlight requests are in flight until one ends (vLLM's
	// --max-concurrency) instead of dropping it; the wait shows in LagMs.
	// Not a spec key yet (`runexp load --max-concurrency`).
	WaitForSlot bool `yaml:"-" json:"wait_for_slot,omitempty"`

	SLO *SLO `yaml:"slo" json:"slo,omitempty" doc:"service-level objectives of this mode (instead of the step's): per request ttft_ms, tpot_ms, e2el_ms give request_goodput and slo_attainment; p50/p90/p95/p99 x ttft/tpot/itl/e2el _ms, max_error_rate and min_slo_attainment decide slo_pass"`

	Over       SearchOver `yaml:"over" json:"over,omitempty" doc:"search: the level searched, concurrency (default) or rate"`
	Min        float64    `yaml:"min" json:"min,omitempty" doc:"search: lowest level probed (default 1)"`
	Max        SearchMax  `yaml:"max" json:"max,omitempty" doc:"search: highest level probed, a number or auto (the point's max_concurrency from the engine log, else predicted_max_concurrency, else 1024)"`
	Tolerance  float64    `yaml:"tolerance" json:"tolerance,omitempty" doc:"search: stop when first_failing - max_passing <= tolerance x max_passing (at least 1 for concurrency); default 0.05"`
	Replicates int        `yaml:"replicates" json:"replicates,omitempty" doc:"search: times the final boundary is re-probed to check the server is monotonic (default 1)"`

	Repeat int `yaml:"repeat" json:"repeat,omitempty" doc:"run the mode this many times on the same server: a load.summary row per repetition, then the mode's row over all of them with <metric>_mean, <metric>_ci95_low, <metric>_ci95_high (Student t) and n"`

	// specPath is the mode's key as written ("modes[1]"), which an
	// expanded list-valued mode shares with its siblings.
	specPath string
}

// MarshalJSON writes Duration as text ("30s"), as a spec writes it, in
// the field order of the struct (plans print modes this way).
func (m Mode) MarshalJSON() ([]byte, error) {
	var duration string
	if m.Duration != 0 {
		duration = m.Duration.String()
	}
	return json.Marshal(struct {
		Name        string     `json:"name,omitempty"`
		Kind        ModeKind   `json:"kind"`
		Requests    int        `json:"requests"`
		Concurrency int        `json:"concurrency,omitempty"`
		Rate        float64    `json:"rate,omitempty"`
		Arrival     Arrival    `json:"arrival,omitempty"`
		Seed        int64      `json:"seed,omitempty"`
		Duration    string     `json:"duration,omitempty"`
		MaxInFlight int        `json:"max_in_flight,omitempty"`
		Burstiness  float64    `json:"burstiness,omitempty"`
		WaitForSlot bool       `json:"wait_for_slot,omitempty"`
		SLO         *SLO       `json:"slo,omitempty"`
		Over        SearchOver `json:"over,omitempty"`
		Min         float64    `json:"min,omitempty"`
		Max         SearchMax  `json:"max,omitempty"`
		Tolerance   float64    `json:"tolerance,omitempty"`
		Replicates  int        `json:"replicates,omitempty"`
		Repeat      int        `json:"repeat,omitempty"`
	}{m.Name, m.Kind, m.Requests, m.Concurrency, m.Rate, m.Arrival, m.Seed, duration, m.MaxInFlight, m.Burstiness, m.WaitForSlot,
		m.SLO, m.Over, m.Min, m.Max, m.Tolerance, m.Replicates, m.Repeat})
}

// label returns the mode's name in results.
func (m Mode) label() string {
	if m.Name != "" {
		return m.Name
	}
	return string(m.Kind)
}

// inFlight is the most requests this mode can have in flight.
func (m Mode) inFlight() int {
	switch m.Kind {
	case KindConcurrent:
		return m.Concurrency
	case KindRate, KindReplay:
		if m.MaxInFlight > 0 {
			return m.MaxInFlight
		}
		return DefaultMaxInFlight
	}
	return 1
}

// reservedBody are body fields the engine owns; Extra may not set them.
var reservedBody = []string{"model", "prompt", "messages", "stream", "max_tokens"}

// Validate reports every problem in c at once, each a *spec.FieldError
// named by its key in a load step ("api", "modes[1].rate"), aggregated with
// go-multierror. It does not touch the network; prompt files are checked
// for existence by Run.
func (c Config) Validate() error {
	var p spec.Problems
	if c.BaseURL == "" {
		p.Add("base_url", "required")
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Add("base_url", "%q is not an http(s) URL", c.BaseURL)
	} else if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1") {
		p.Add("base_url", "%q must not end in /v1 (the engine appends /v1/...)", c.BaseURL)
	}
	if c.API != "" && !spec.InEnum(c.API, string(c.API)) {
		p.Add("api", "%s", spec.NotInEnum(string(c.API), c.API.Values()))
	}
	if c.Model == "" {
		p.Add("model", "required")
	}
	if c.MaxTokens < 0 {
		p.Add("max_tokens", "%d must be >= 0", c.MaxTokens)
	}
	for _, k := range reservedBody {
		if _, ok := c.Extra[k]; ok {
			p.Add("extra."+k, "%q is set by the engine and cannot be overridden", k)
		}
	}
	p.Nest("", c.Prompts.validate())
	if c.Dataset != nil {
		if c.Prompts.Fixed != "" || c.Prompts.File != "" || c.Prompts.SyntheticTokens != 0 || len(c.Prompts.List) > 0 {
			p.Add("dataset", "set a dataset or prompts, not both")
		}
		p.Nest("", c.Dataset.validate("dataset.", c.API, c.Modes))
	}
	if c.Warmup < 0 {
		p.Add("warmup", "%d must be >= 0", c.Warmup)
	}
	if c.MetricsPath != "" && !strings.HasPrefix(c.MetricsPath, "/") {
		p.Add("metrics", "%q must be a path on the server starting with /", c.MetricsPath)
	}
	if c.RequestTimeout < 0 {
		p.Add("request_timeout", "%v must be >= 0", c.RequestTimeout)
	}
	if c.ErrorThreshold < 0 || c.ErrorThreshold > 1 {
		p.Add("error_threshold", "%v must be within [0, 1]", c.ErrorThreshold)
	}
	if len(c.Modes) == 0 {
		p.Add("modes", "at least one mode is required")
	}
	p.Nest("", c.SLO.validate("slo."))
	seen := map[string]bool{}
	for i, m := range c.Modes {
		at := func(key string) string {
			if m.specPath != "" {
				return m.specPath + key
			}
			return fmt.Sprintf("modes[%d]%s", i, key)
		}
		if seen[m.label()] {
			p.Add(at(".name"), "duplicate mode name %q (set name)", m.label())
		}
		seen[m.label()] = true
		if m.Requests < 0 {
			p.Add(at(".requests"), "%d must be >= 0", m.Requests)
		}
		if m.Duration < 0 {
			p.Add(at(".duration"), "%v must be >= 0", m.Duration)
		}
		p.Nest("", m.SLO.validate(at(".slo.")))
		if m.Repeat < 0 {
			p.Add(at(".repeat"), "%d must be >= 0", m.Repeat)
		} else if m.Repeat != 0 && m.Kind == KindSearch {
			p.Add(at(".repeat"), "a search re-probes its boundary instead; use replicates")
		}
		if m.Kind != KindSearch {
			for _, f := range []struct {
				key string
				set bool
			}{{".over", m.Over != ""}, {".min", m.Min != 0}, {".max", m.Max != ""}, {".tolerance", m.Tolerance != 0}, {".replicates", m.Replicates != 0}} {
				if f.set {
					p.Add(at(f.key), "applies to kind search only")
				}
			}
		}
		switch m.Kind {
		case KindSearch:
			m.validateSearch(&p, at, c.SLO)
		case KindSequential, KindConcurrent:
			if m.Requests == 0 && m.Duration == 0 {
				p.Add(at(""), "requests or duration is required")
			}
			if m.Kind == KindConcurrent && m.Concurrency < 1 {
				p.Add(at(".concurrency"), "%d must be >= 1", m.Concurrency)
			}
			if m.Kind == KindSequential && m.Concurrency > 1 {
				p.Add(at(".concurrency"), "%d is more than 1, the concurrency of a sequential mode", m.Concurrency)
			}
			if m.Rate != 0 {
				p.Add(at(".rate"), "applies to kind rate only")
			}
			if m.Arrival != "" {
				p.Add(at(".arrival"), "applies to kind rate only")
			}
			if m.MaxInFlight != 0 {
				p.Add(at(".max_in_flight"), "applies to kinds rate and replay only")
			}
			if m.Burstiness != 0 {
				p.Add(at(".burstiness"), "applies to kind rate only")
			}
			if m.WaitForSlot {
				p.Add(at(".wait_for_slot"), "applies to kind rate only")
			}
		case KindRate:
			if !(m.Rate > 0) || math.IsInf(m.Rate, 0) {
				p.Add(at(".rate"), "%v must be > 0", m.Rate)
			}
			if m.Requests == 0 && m.Duration == 0 {
				p.Add(at(""), "requests or duration is required")
			}
			if m.Arrival != "" && !spec.InEnum(m.Arrival, string(m.Arrival)) {
				p.Add(at(".arrival"), "%s", spec.NotInEnum(string(m.Arrival), m.Arrival.Values()))
			}
			if m.MaxInFlight < 0 {
				p.Add(at(".max_in_flight"), "%d must be >= 0", m.MaxInFlight)
			}
			if m.Burstiness < 0 || math.IsInf(m.Burstiness, 0) || math.IsNaN(m.Burstiness) {
				p.Add(at(".burstiness"), "%v must be a positive number", m.Burstiness)
			} else if m.Burstiness != 0 && m.Burstiness != 1 && m.Arrival != ArrivalPoisson {
				p.Add(at(".burstiness"), "applies to arrival poisson only")
			}
			if m.Concurrency != 0 {
				p.Add(at(".concurrency"), "applies to kind concurrent; use max_in_flight")
			}
			if m.Rate > 0 && m.Requests == 0 && m.Duration > 0 && m.Rate*m.Duration.Seconds() > 1e7 {
				p.Add(at(""), "rate x duration schedules more than 10M requests")
			}
		case KindReplay:
			if c.Dataset == nil || c.Dataset.normalized().Name != DatasetTrace {
				p.Add(at(".kind"), "replay sends at a trace's times: it needs dataset trace")
			}
			for _, f := range []struct {
				key string
				set bool
			}{{".rate", m.Rate != 0}, {".arrival", m.Arrival != ""}, {".concurrency", m.Concurrency != 0}, {".duration", m.Duration != 0},
				{".burstiness", m.Burstiness != 0}} {
				if f.set {
					p.Add(at(f.key), "does not apply to kind replay (the trace sets the times)")
				}
			}
			if m.MaxInFlight < 0 {
				p.Add(at(".max_in_flight"), "%d must be >= 0", m.MaxInFlight)
			}
		case "":
			p.Add(at(".kind"), "required (one of %s)", strings.Join(m.Kind.Values(), ", "))
		default:
			p.Add(at(".kind"), "%s", spec.NotInEnum(string(m.Kind), m.Kind.Values()))
		}
	}
	return p.Err()
}

// NormalizeBaseURL turns a server address as people type it into a
// BaseURL: "127.0.0.1:8000" gets http://, and trailing slashes and a
// trailing /v1 are removed (the engine appends /v1/...), as ollama-create
// accepts. Anything else is left for Validate to judge.
func NormalizeBaseURL(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, "/v1")
	return strings.TrimRight(s, "/")
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
