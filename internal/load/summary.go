package load

import (
	"cmp"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Summary is one mode's result. JSON names follow `vllm bench serve`
// (completed, failed, duration, request_throughput, mean_ttft_ms, ...),
// plus n_<metric> (the sample count behind each metric's statistics),
// generator lag and error/finish-reason counts.
//
// Definitions (as in vLLM's calculate_metrics):
//   - only completed (successful) requests feed the token and latency
//     statistics; failed ones are counted by class in ErrorsByClass;
//   - duration: seconds from the mode's start (earliest intended start) to
//     the end of its last request;
//   - TTFT: per streamed request; TPOT: per request with more than one
//     completion token, (e2el - ttft) / (completion_tokens - 1); ITL: every
//     inter-chunk gap of every request, pooled; E2EL: per request;
//   - std is the population standard deviation (numpy's default, ddof=0);
//   - percentiles interpolate linearly between closest ranks, as numpy's
//     default ("linear", Hyndman-Fan type 7): rank = p/100 * (n-1);
//   - max_concurrent_requests is the exact peak of overlapping
//     [start, start+e2el] intervals over all sent requests;
//   - lag: Start - IntendedStart over all sent requests.
//
// A statistic over zero samples is 0; its n_ field says so.
type Summary struct {
	Mode           string  `json:"mode"`
	Kind           string  `json:"kind"`
	NumPrompts     int     `json:"num_prompts"`     // requests scheduled (completed + failed + dropped)
	MaxConcurrency int     `json:"max_concurrency"` // configured cap (C, 1, or max_in_flight)
	RequestRate    float64 `json:"request_rate"`    // configured rate (rate mode), else 0

	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Dropped   int `json:"dropped"`
	// Canceled counts requests cut short because the run was interrupted
	// (ClassCanceled): neither completed nor failed, they take no part in
	// the statistics, the error rate or the threshold.
	Canceled int     `json:"canceled"`
	Duration float64 `json:"duration"` // seconds

	TotalInputTokens     int     `json:"total_input_tokens"`
	TotalOutputTokens    int     `json:"total_output_tokens"`
	RequestThroughput    float64 `json:"request_throughput"`     // completed / duration
	OutputThroughput     float64 `json:"output_throughput"`      // output tokens / duration
	TotalTokenThroughput float64 `json:"total_token_throughput"` // (input + output tokens) / duration
	// OutputThroughputPerUser is the output tokens/s one user receives:
	// output_throughput / max_concurrent_requests, the x axis of a Pareto
	// chart. vLLM's plot_pareto divides by the configured max_concurrency;
	// the peak achieved equals it for a saturated concurrent mode and stays
	// honest for a rate mode, whose configured cap says nothing of the
	// users actually served. 0 when no request ran.
	OutputThroughputPerUser float64 `json:"output_throughput_per_user"`

	MeanTTFTms   float64 `json:"mean_ttft_ms"`
	MedianTTFTms float64 `json:"median_ttft_ms"`
	StdTTFTms    float64 `json:"std_ttft_ms"`
	P90TTFTms    float64 `json:"p90_ttft_ms"`
	P99TTFTms    float64 `json:"p99_ttft_ms"`
	NTTFT        int     `json:"n_ttft"`

	MeanTPOTms   float64 `json:"mean_tpot_ms"`
	MedianTPOTms float64 `json:"median_tpot_ms"`
	StdTPOTms    float64 `json:"std_tpot_ms"`
	P90TPOTms    float64 `json:"p90_tpot_ms"`
	P99TPOTms    float64 `json:"p99_tpot_ms"`
	NTPOT        int     `json:"n_tpot"`

	MeanITLms   float64 `json:"mean_itl_ms"`
	MedianITLms float64 `json:"median_itl_ms"`
	StdITLms    float64 `json:"std_itl_ms"`
	P90ITLms    float64 `json:"p90_itl_ms"`
	P99ITLms    float64 `json:"p99_itl_ms"`
	NITL        int     `json:"n_itl"`

	MeanE2ELms   float64 `json:"mean_e2el_ms"`
	MedianE2ELms float64 `json:"median_e2el_ms"`
	StdE2ELms    float64 `json:"std_e2el_ms"`
	P90E2ELms    float64 `json:"p90_e2el_ms"`
	P99E2ELms    float64 `json:"p99_e2el_ms"`
	NE2EL        int     `json:"n_e2el"`

	MaxConcurrentRequests int     `json:"max_concurrent_requests"` // achieved
	LagP50ms              float64 `json:"lag_p50_ms"`
	LagP99ms              float64 `json:"lag_p99_ms"`
	LagMaxms              float64 `json:"lag_max_ms"`
	NLag                  int     `json:"n_lag"`

	ErrorsByClass map[string]int `json:"errors_by_class"`
	TokensSource  string         `json:"tokens_source"` // "usage" | "chunks" | "none" | "mixed" | "" (no completed request)
	// PromptTokenChecks counts the completed requests whose intended prompt
	// length was known (a dataset's, counted by the server's tokenizer) and
	// whose server reported usage; PromptTokenMismatches those whose
	// reported prompt_tokens differ from it (goal: 0).
	PromptTokenChecks     int `json:"prompt_token_checks"`
	PromptTokenMismatches int `json:"prompt_token_mismatches"`
	// The prefix-cache fields are the growth of the server's
	// vllm:prefix_cache_queries and vllm:prefix_cache_hits counters
	// (tokens) over the mode, and hits / queries; unset when the server
	// exposes no such counters (Values omits them).
	PrefixCacheQueries *float64 `json:"prefix_cache_queries,omitempty"`
	PrefixCacheHits    *float64 `json:"prefix_cache_hits,omitempty"`
	PrefixCacheHitRate *float64 `json:"prefix_cache_hit_rate,omitempty"`
	// KVCacheUsageMax is the largest vllm:kv_cache_usage_perc (0-1) read
	// from the server's metrics while the mode ran (sampled every 250 ms);
	// unset without metrics.
	KVCacheUsageMax *float64 `json:"kv_cache_usage_max,omitempty"`
	// The turn fields are a multi_turn mode's TTFT of first turns and of
	// later turns (whose prompts carry the conversation); unset elsewhere.
	MeanTTFTFirstTurnms    *float64       `json:"mean_ttft_first_turn_ms,omitempty"`
	MedianTTFTFirstTurnms  *float64       `json:"median_ttft_first_turn_ms,omitempty"`
	MeanTTFTLaterTurnsms   *float64       `json:"mean_ttft_later_turns_ms,omitempty"`
	MedianTTFTLaterTurnsms *float64       `json:"median_ttft_later_turns_ms,omitempty"`
	FinishReasons          map[string]int `json:"finish_reasons"`
	ErrorRate              float64        `json:"error_rate"` // failed / (completed + failed)
	ThresholdExceeded      bool           `json:"threshold_exceeded"`
	// Interrupted says the run's context was cancelled during this mode:
	// its figures cover only the requests that ended before.
	Interrupted bool `json:"interrupted"`
	// ErrorMessages keeps, per error class, the first MaxErrorMessages
	// distinct messages (a server's "model does not exist" among them), so
	// a console can show why requests failed. Values leaves it out.
	ErrorMessages map[string][]string `json:"error_messages,omitempty"`

	// The SLO fields are set only when the mode has SLOs (Mode.SLO or
	// Config.SLO); Values leaves them out otherwise. RequestGoodput is
	// vLLM's: requests/s meeting every per-request SLO; SLOAttainment is
	// their fraction of the requests sent. SLOPass judges the aggregate
	// SLOs; SLOBinding is the first one that failed; SLOMargins holds each
	// one's headroom (latency: 1 - observed/limit; error rate: limit -
	// observed; attainment: observed - minimum; negative means violated).
	RequestGoodput *float64           `json:"request_goodput,omitempty"`
	SLOAttainment  *float64           `json:"slo_attainment,omitempty"`
	SLOPass        *bool              `json:"slo_pass,omitempty"`
	SLOBinding     string             `json:"slo_binding,omitempty"`
	SLOMargins     map[string]float64 `json:"slo_margin,omitempty"`
	// Probe numbers the probes of a search (1, 2, ...); 0 elsewhere.
	Probe int `json:"probe,omitempty"`
	// Rep numbers the repetitions of a repeated mode (Mode.Repeat > 1),
	// each a summary of its own; after them comes the mode's summary over
	// all of them, with N (the repetitions) and RepeatStats
	// (<metric>_mean, _ci95_low, _ci95_high; see RepeatStats), which Values
	// writes as names of their own.
	Rep         int                `json:"rep,omitempty"`
	N           int                `json:"n,omitempty"`
	RepeatStats map[string]float64 `json:"repeat_stats,omitempty" values:"inline"`
}

// MaxErrorMessages is how many distinct messages per error class a Summary
// keeps in ErrorMessages.
const MaxErrorMessages = 3

// Stats are the summary statistics of one metric.
type Stats struct {
	Mean, Median, Std, P90, P99 float64
	N                           int
}

// ComputeStats returns the statistics of x, sorting x in place.
func ComputeStats(x []float64) Stats {
	if len(x) == 0 {
		return Stats{}
	}
	slices.Sort(x)
	var sum float64
	for _, v := range x {
		sum += v
	}
	mean := sum / float64(len(x))
	var ss float64
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	return Stats{
		Mean:   mean,
		Median: Percentile(x, 50),
		Std:    math.Sqrt(ss / float64(len(x))),
		P90:    Percentile(x, 90),
		P99:    Percentile(x, 99),
		N:      len(x),
	}
}

// Percentile returns the p-th percentile (0..100) of sorted by linear
// interpolation between closest ranks (numpy's default). It returns 0 for
// an empty slice.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := p / 100 * float64(n-1)
	lo := int(math.Floor(rank))
	if lo < 0 {
		return sorted[0]
	}
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := rank - float64(lo)
	return sorted[lo] + (sorted[lo+1]-sorted[lo])*frac
}

// Summarize computes a mode's Summary from its per-request results. It is a
// pure function of its arguments, so a summary can be recomputed from
// requests.jsonl. errorThreshold is Config.ErrorThreshold.
func Summarize(m Mode, rs []RequestResult, errorThreshold float64) Summary {
	s := Summary{
		Mode:           m.label(),
		Kind:           string(m.Kind),
		NumPrompts:     len(rs),
		MaxConcurrency: m.inFlight(),
		ErrorsByClass:  map[string]int{},
		FinishReasons:  map[string]int{},
	}
	if m.Kind == KindRate {
		s.RequestRate = m.Rate
	}
	var ttft, tpot, itl, e2el, lag []float64
	var t0, tEnd time.Time
	type edge struct {
		t int64
		d int
	}
	edges := make([]edge, 0, 2*len(rs))
	sources := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if !r.IntendedStart.IsZero() && (t0.IsZero() || r.IntendedStart.Before(t0)) {
			t0 = r.IntendedStart
		}
		if r.ErrorClass == ClassDropped {
			s.Dropped++
			continue
		}
		if r.ErrorClass == ClassCanceled {
			// Cut short by the interrupt: the server's answer is unknown.
			s.Canceled++
			s.Interrupted = true
			continue
		}
		if r.Start.IsZero() {
			continue
		}
		end := r.Start.Add(time.Duration(r.E2ELms * 1e6))
		if end.After(tEnd) {
			tEnd = end
		}
		if t0.IsZero() || r.Start.Before(t0) {
			t0 = r.Start
		}
		edges = append(edges, edge{r.Start.UnixNano(), 1}, edge{end.UnixNano(), -1})
		lag = append(lag, r.LagMs)
		if !r.OK() {
			s.Failed++
			s.ErrorsByClass[r.ErrorClass]++
			s.addErrorMessage(r.ErrorClass, r.Error)
			continue
		}
		s.Completed++
		if r.IntendedPromptTokens > 0 && r.TokensSource == TokensUsage {
			s.PromptTokenChecks++
			if r.PromptTokens != r.IntendedPromptTokens {
				s.PromptTokenMismatches++
			}
		}
		s.TotalInputTokens += r.PromptTokens
		s.TotalOutputTokens += r.CompletionTokens
		sources[r.TokensSource] = true
		if r.FinishReason != "" {
			s.FinishReasons[r.FinishReason]++
		}
		e2el = append(e2el, r.E2ELms)
		if r.TTFTms > 0 {
			ttft = append(ttft, r.TTFTms)
			if r.CompletionTokens > 1 {
				tpot = append(tpot, (r.E2ELms-r.TTFTms)/float64(r.CompletionTokens-1))
			}
		}
		itl = append(itl, r.ITLms...)
	}
	if !t0.IsZero() && tEnd.After(t0) {
		s.Duration = tEnd.Sub(t0).Seconds()
	}
	if s.Duration > 0 {
		s.RequestThroughput = float64(s.Completed) / s.Duration
		s.OutputThroughput = float64(s.TotalOutputTokens) / s.Duration
		s.TotalTokenThroughput = float64(s.TotalInputTokens+s.TotalOutputTokens) / s.Duration
	}
	s.turnTTFTs(rs)
	st := ComputeStats(ttft)
	s.MeanTTFTms, s.MedianTTFTms, s.StdTTFTms, s.P90TTFTms, s.P99TTFTms, s.NTTFT = st.Mean, st.Median, st.Std, st.P90, st.P99, st.N
	st = ComputeStats(tpot)
	s.MeanTPOTms, s.MedianTPOTms, s.StdTPOTms, s.P90TPOTms, s.P99TPOTms, s.NTPOT = st.Mean, st.Median, st.Std, st.P90, st.P99, st.N
	st = ComputeStats(itl)
	s.MeanITLms, s.MedianITLms, s.StdITLms, s.P90ITLms, s.P99ITLms, s.NITL = st.Mean, st.Median, st.Std, st.P90, st.P99, st.N
	st = ComputeStats(e2el)
	s.MeanE2ELms, s.MedianE2ELms, s.StdE2ELms, s.P90E2ELms, s.P99E2ELms, s.NE2EL = st.Mean, st.Median, st.Std, st.P90, st.P99, st.N
	if len(lag) > 0 {
		slices.Sort(lag)
		s.LagP50ms, s.LagP99ms, s.LagMaxms, s.NLag = Percentile(lag, 50), Percentile(lag, 99), lag[len(lag)-1], len(lag)
	}

	// Peak overlap; at equal times ends come before starts.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.d, b.d)
	})
	cur := 0
	for _, e := range edges {
		cur += e.d
		s.MaxConcurrentRequests = max(s.MaxConcurrentRequests, cur)
	}
	if s.MaxConcurrentRequests > 0 {
		s.OutputThroughputPerUser = s.OutputThroughput / float64(s.MaxConcurrentRequests)
	}

	switch len(sources) {
	case 0:
	case 1:
		for k := range sources {
			s.TokensSource = k
		}
	default:
		s.TokensSource = "mixed"
	}
	if sent := s.Completed + s.Failed; sent > 0 {
		s.ErrorRate = float64(s.Failed) / float64(sent)
	}
	s.ThresholdExceeded = s.Failed > 0 && s.ErrorRate > errorThreshold
	judgeSLO(&s, m.SLO, rs, map[string][]float64{"ttft": ttft, "tpot": tpot, "itl": itl, "e2el": e2el})
	return s
}

// addErrorMessage keeps msg if it is one of the first MaxErrorMessages
// distinct messages of its class.
func (s *Summary) addErrorMessage(class, msg string) {
	if msg == "" {
		return
	}
	have := s.ErrorMessages[class]
	if len(have) >= MaxErrorMessages || slices.Contains(have, msg) {
		return
	}
	if s.ErrorMessages == nil {
		s.ErrorMessages = map[string][]string{}
	}
	s.ErrorMessages[class] = append(have, msg)
}

// Values returns the summary as a flat map keyed by JSON name, for CSV rows
// and templates. Map fields are flattened as "errors_by_class.<class>" and
// "finish_reasons.<reason>", "slo_margin.<slo>" (ErrorMessages is left
// out); numbers keep their Go types (int, float64). Optional fields (json
// omitempty: the SLO and search fields) are left out when unset.
func (s Summary) Values() map[string]any {
	out := make(map[string]any, 64)
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		f := v.Field(i)
		if strings.Contains(t.Field(i).Tag.Get("json"), ",omitempty") && f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		if f.Kind() == reflect.Map {
			if k := f.Type().Elem().Kind(); k != reflect.Int && k != reflect.Float64 {
				continue // ErrorMessages: text for people, not a value
			}
			prefix := name + "."
			if t.Field(i).Tag.Get("values") == "inline" {
				prefix = ""
			}
			for _, k := range f.MapKeys() {
				out[prefix+k.String()] = f.MapIndex(k).Interface()
			}
			continue
		}
		out[name] = f.Interface()
	}
	return out
}
