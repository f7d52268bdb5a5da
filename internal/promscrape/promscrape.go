// Package promscrape scrapes a Prometheus /metrics endpoint and parses it
// with github.com/prometheus/common/expfmt, then pulls out the vLLM values
// the measure step records (kv-cache-facts.md §2.2).
package promscrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are parsed metric families keyed by name.
type Families map[string]*dto.MetricFamily

// MaxBodyBytes bounds a scraped body.
const MaxBodyBytes = 64 << 20

// acceptHeader asks for the classic text format only: Python's
// prometheus_client (vLLM's exporter) ignores q values and serves
// OpenMetrics whenever the header mentions it, and expfmt's OpenMetrics
// parser is much slower and rejects families (info, stateset) the text
// parser reads. Parse still decodes OpenMetrics if a server sends it.
const acceptHeader = `text/plain;version=0.0.4`

// Parse decodes an exposition. contentType is the response's Content-Type
// ("" means the classic text format). Metric names may contain ':' and any
// UTF-8 (model.UTF8Validation).
func Parse(r io.Reader, contentType string) (Families, error) {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	format := expfmt.ResponseFormat(h)
	switch format.FormatType() {
	case expfmt.TypeOpenMetrics, expfmt.TypeProtoDelim:
		dec := expfmt.NewDecoder(r, format)
		fams := Families{}
		for {
			mf := &dto.MetricFamily{}
			err := dec.Decode(mf)
			if errors.Is(err, io.EOF) {
				return fams, nil
			}
			if err != nil {
				return nil, fmt.Errorf("promscrape: %w", err)
			}
			fams[mf.GetName()] = mf
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("promscrape: %w", err)
	}
	return Families(fams), nil
}

// Fetch GETs url and parses the body. client nil means http.DefaultClient;
// bound the call with ctx.
func Fetch(ctx context.Context, client *http.Client, url string) (Families, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("promscrape: %w", err)
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("promscrape: %w", err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, MaxBodyBytes)
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(body, 512))
		return nil, fmt.Errorf("promscrape: GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(snippet)))
	}
	fams, err := Parse(body, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("%w (GET %s)", err, url)
	}
	return fams, nil
}

// Match selects series by label values (all must equal); nil matches all.
type Match map[string]string

func (m Match) ok(metric *dto.Metric) bool {
	for k, v := range m {
		found := false
		for _, lp := range metric.GetLabel() {
			if lp.GetName() == k {
				found = lp.GetValue() == v
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Value sums the matching series of a counter, gauge or untyped family. For a
// histogram or summary family X, "X_count" and "X_sum" give the summed sample
// count and sum. A counter's "_total" suffix is optional in name.
func (f Families) Value(name string, match Match) (float64, bool) {
	if vals := f.values(name, match); len(vals) > 0 {
		return sum(vals), true
	}
	return 0, false
}

// Max is like Value but takes the largest matching series.
func (f Families) Max(name string, match Match) (float64, bool) {
	vals := f.values(name, match)
	if len(vals) == 0 {
		return 0, false
	}
	m := vals[0]
	for _, v := range vals[1:] {
		m = math.Max(m, v)
	}
	return m, true
}

func sum(vals []float64) float64 {
	var s float64
	for _, v := range vals {
		s += v
	}
	return s
}

func (f Families) values(name string, match Match) []float64 {
	if mf, ok := f.family(name); ok {
		var out []float64
		for _, m := range mf.GetMetric() {
			if !match.ok(m) {
				continue
			}
			switch {
			case m.Counter != nil:
				out = append(out, m.GetCounter().GetValue())
			case m.Gauge != nil:
				out = append(out, m.GetGauge().GetValue())
			case m.Untyped != nil:
				out = append(out, m.GetUntyped().GetValue())
			}
		}
		return out
	}
	for _, suffix := range []string{"_count", "_sum"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		mf, ok := f[base]
		if !ok {
			continue
		}
		var out []float64
		for _, m := range mf.GetMetric() {
			if !match.ok(m) {
				continue
			}
			switch {
			case m.Histogram != nil && suffix == "_count":
				out = append(out, float64(m.GetHistogram().GetSampleCount()))
			case m.Histogram != nil:
				out = append(out, m.GetHistogram().GetSampleSum())
			case m.Summary != nil && suffix == "_count":
				out = append(out, float64(m.GetSummary().GetSampleCount()))
			case m.Summary != nil:
				out = append(out, m.GetSummary().GetSampleSum())
			}
		}
		return out
	}
	return nil
}

// family finds name, or name without/with "_total" (OpenMetrics parsing
// names counter families without the suffix, the text format with it).
func (f Families) family(name string) (*dto.MetricFamily, bool) {
	if mf, ok := f[name]; ok {
		return mf, true
	}
	if base, ok := strings.CutSuffix(name, "_total"); ok {
		if mf, ok := f[base]; ok {
			return mf, true
		}
	} else if mf, ok := f[name+"_total"]; ok {
		return mf, true
	}
	return nil, false
}

// Labels returns the label set of the first series of an info-style family
// (such as vllm:cache_config_info), or nil.
func (f Families) Labels(name string) map[string]string {
	mf, ok := f.family(name)
	if !ok || len(mf.GetMetric()) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, lp := range mf.GetMetric()[0].GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// Names lists the family names, sorted.
func (f Families) Names() []string {
	out := make([]string, 0, len(f))
	for k := range f {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// VLLM is what the measure step records from a vLLM /metrics scrape.
type VLLM struct {
	Time time.Time `json:"time"`
	// Values is flat, with these keys where the server exports them:
	//   num_gpu_blocks, block_size, kv_cache_size_tokens, kv_cache_max_concurrency,
	//   gpu_memory_utilization, num_cpu_blocks   (numeric labels of vllm:cache_config_info)
	//   kv_cache_usage_perc          vllm:kv_cache_usage_perc, else vllm:gpu_cache_usage_perc (0–1; largest engine)
	//   num_requests_running, num_requests_waiting, num_requests_swapped (V0)   (summed over engines)
	//   num_preemptions_total        vllm:num_preemptions_total (older: vllm:num_preemptions)
	//   prompt_tokens_total, generation_tokens_total, request_success_total,
	//   request_success_length_total (finished_reason="length"),
	//   prefix_cache_queries_total, prefix_cache_hits_total (older gpu_prefix_cache_*)
	Values map[string]float64 `json:"values"`
	// Labels holds vllm:cache_config_info's labels as strings ("None" kept).
	Labels map[string]string `json:"labels,omitempty"`
	// Source names the metric each value came from (old vs new names).
	Source map[string]string `json:"source,omitempty"`
}

// cacheConfigNumeric are the cache_config_info labels copied into Values.
var cacheConfigNumeric = []string{"num_gpu_blocks", "block_size", "kv_cache_size_tokens",
	"kv_cache_max_concurrency", "gpu_memory_utilization", "num_cpu_blocks"}

// ExtractVLLM pulls the vLLM values out of parsed families.
func ExtractVLLM(f Families) VLLM {
	out := VLLM{Time: time.Now(), Values: map[string]float64{}, Source: map[string]string{}}
	if l := f.Labels("vllm:cache_config_info"); l != nil {
		out.Labels = l
		for _, k := range cacheConfigNumeric {
			if v, err := strconv.ParseFloat(l[k], 64); err == nil && !math.IsNaN(v) {
				out.Values[k] = v
				out.Source[k] = "vllm:cache_config_info{" + k + "}"
			}
		}
	}
	first := func(key string, agg func(string, Match) (float64, bool), match Match, names ...string) {
		for _, n := range names {
			if v, ok := agg(n, match); ok {
				out.Values[key] = v
				out.Source[key] = n
				return
			}
		}
	}
	first("kv_cache_usage_perc", f.Max, nil, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
	first("num_requests_running", f.Value, nil, "vllm:num_requests_running")
	first("num_requests_waiting", f.Value, nil, "vllm:num_requests_waiting")
	first("num_requests_swapped", f.Value, nil, "vllm:num_requests_swapped")
	first("num_preemptions_total", f.Value, nil, "vllm:num_preemptions_total", "vllm:num_preemptions")
	first("prompt_tokens_total", f.Value, nil, "vllm:prompt_tokens_total")
	first("generation_tokens_total", f.Value, nil, "vllm:generation_tokens_total")
	first("request_success_total", f.Value, nil, "vllm:request_success_total")
	first("request_success_length_total", f.Value, Match{"finished_reason": "length"}, "vllm:request_success_total")
	first("prefix_cache_queries_total", f.Value, nil, "vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total")
	first("prefix_cache_hits_total", f.Value, nil, "vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total")
	return out
}

// ScrapeVLLM fetches url (e.g. http://127.0.0.1:8000/metrics) and extracts
// the vLLM values.
func ScrapeVLLM(ctx context.Context, client *http.Client, url string) (VLLM, error) {
	f, err := Fetch(ctx, client, url)
	if err != nil {
		return VLLM{}, err
	}
	return ExtractVLLM(f), nil
}
