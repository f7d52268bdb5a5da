package load

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// Metrics are the latency metrics, named as vLLM's --percentile-metrics
// names them.
var Metrics = []string{"ttft", "tpot", "itl", "e2el"}

// MetricSamples returns the samples behind each latency metric of a
// mode's results, in milliseconds and sorted, by the definitions of
// Summarize: successful requests only; TTFT of streamed requests; TPOT of
// streamed requests with more than one completion token; every ITL gap;
// every E2EL.
func MetricSamples(rs []RequestResult) map[string][]float64 {
	out := map[string][]float64{}
	for _, k := range Metrics {
		out[k] = []float64{}
	}
	for i := range rs {
		r := &rs[i]
		if !r.OK() || r.Start.IsZero() {
			continue
		}
		out["e2el"] = append(out["e2el"], r.E2ELms)
		if r.TTFTms > 0 {
			out["ttft"] = append(out["ttft"], r.TTFTms)
			if r.CompletionTokens > 1 {
				out["tpot"] = append(out["tpot"], (r.E2ELms-r.TTFTms)/float64(r.CompletionTokens-1))
			}
		}
		out["itl"] = append(out["itl"], r.ITLms...)
	}
	for _, x := range out {
		slices.Sort(x)
	}
	return out
}

// PercentileKey names a percentile statistic as vLLM does: p99_ttft_ms,
// p99.9_itl_ms.
func PercentileKey(p float64, metric string) string {
	return "p" + strconv.FormatFloat(p, 'f', -1, 64) + "_" + metric + "_ms"
}

// BenchInfo is the setup a `vllm bench serve --save-result` file records
// beside its measurements.
type BenchInfo struct {
	Date        string // "20060102-150405", as vLLM writes it
	Backend     string // "openai" (completions) or "openai-chat"
	Label       string // empty: null
	ModelID     string
	TokenizerID string // empty: ModelID
	NumPrompts  int
	RequestRate float64 // +Inf is written "inf"
	Burstiness  float64
	// MaxConcurrency is --max-concurrency; 0 is written null (no limit).
	MaxConcurrency int
	// Metadata are --metadata KEY=VALUE pairs, written as top-level fields
	// in order.
	Metadata [][2]string
	// PercentileMetrics choose the metrics with statistics (default ttft,
	// tpot, itl); MetricPercentiles their percentiles (default 99).
	PercentileMetrics []string
	MetricPercentiles []float64
}

// orderedJSON writes a JSON object whose keys keep their insertion order,
// so a result file reads in vLLM's order.
type orderedJSON struct {
	buf bytes.Buffer
	err error
}

func (o *orderedJSON) add(k string, v any) {
	if o.err != nil {
		return
	}
	if o.buf.Len() == 0 {
		o.buf.WriteString("{\n")
	} else {
		o.buf.WriteString(",\n")
	}
	kb, _ := json.Marshal(k)
	vb, err := json.Marshal(v)
	if err != nil {
		o.err = err
		return
	}
	o.buf.WriteString("  ")
	o.buf.Write(kb)
	o.buf.WriteString(": ")
	o.buf.Write(vb)
}

// BenchResult encodes one mode's results as `vllm bench serve` saves them
// (--save-result with --save-detailed), with vLLM's field names and units
// (ttfts and itls in seconds, statistics in milliseconds), so tooling
// written for vLLM's result files reads it. The per-request lists cover
// every sent request in schedule order (a failed one has output length 0
// and its message in errors); generated_texts are empty strings, as the
// engine does not keep generated text. request_goodput is null (no SLOs).
func BenchResult(info BenchInfo, s Summary, rs []RequestResult) ([]byte, error) {
	var o orderedJSON
	o.add("date", info.Date)
	o.add("endpoint_type", info.Backend)
	o.add("backend", info.Backend)
	o.add("label", nullIfEmpty(info.Label))
	o.add("model_id", info.ModelID)
	tok := info.TokenizerID
	if tok == "" {
		tok = info.ModelID
	}
	o.add("tokenizer_id", tok)
	o.add("num_prompts", info.NumPrompts)
	for _, kv := range info.Metadata {
		o.add(kv[0], kv[1])
	}
	if math.IsInf(info.RequestRate, 1) {
		o.add("request_rate", "inf")
	} else {
		o.add("request_rate", info.RequestRate)
	}
	o.add("burstiness", info.Burstiness)
	if info.MaxConcurrency > 0 {
		o.add("max_concurrency", info.MaxConcurrency)
	} else {
		o.add("max_concurrency", nil)
	}
	o.add("duration", s.Duration)
	o.add("completed", s.Completed)
	o.add("failed", s.Failed)
	o.add("total_input_tokens", s.TotalInputTokens)
	o.add("total_output_tokens", s.TotalOutputTokens)
	o.add("request_throughput", s.RequestThroughput)
	o.add("request_goodput", nil)
	o.add("output_throughput", s.OutputThroughput)
	o.add("total_token_throughput", s.TotalTokenThroughput)
	o.add("max_concurrent_requests", s.MaxConcurrentRequests)

	inputLens, outputLens := []int{}, []int{}
	ttfts, itls := []float64{}, [][]float64{}
	texts, errs := []string{}, []string{}
	for _, r := range rs {
		if r.Start.IsZero() {
			continue // dropped: never sent
		}
		in, outLen := r.PromptTokens, r.CompletionTokens
		if !r.OK() {
			outLen = 0
		}
		inputLens, outputLens = append(inputLens, in), append(outputLens, outLen)
		ttfts = append(ttfts, r.TTFTms/1000)
		gaps := make([]float64, len(r.ITLms))
		for i, g := range r.ITLms {
			gaps[i] = g / 1000
		}
		itls = append(itls, gaps)
		texts = append(texts, "")
		errs = append(errs, r.Error)
	}
	o.add("input_lens", inputLens)
	o.add("output_lens", outputLens)
	o.add("ttfts", ttfts)
	o.add("itls", itls)
	o.add("generated_texts", texts)
	o.add("errors", errs)

	metrics := info.PercentileMetrics
	if len(metrics) == 0 {
		metrics = []string{"ttft", "tpot", "itl"}
	}
	ps := info.MetricPercentiles
	if len(ps) == 0 {
		ps = []float64{99}
	}
	samples := MetricSamples(rs)
	for _, m := range metrics {
		st := ComputeStats(samples[m])
		o.add("mean_"+m+"_ms", st.Mean)
		o.add("median_"+m+"_ms", st.Median)
		o.add("std_"+m+"_ms", st.Std)
		for _, p := range ps {
			o.add(PercentileKey(p, m), Percentile(samples[m], p))
		}
	}
	if o.err != nil {
		return nil, o.err
	}
	o.buf.WriteString("\n}\n")
	return o.buf.Bytes(), nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
