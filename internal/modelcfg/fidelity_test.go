package modelcfg

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// logCase is one public vLLM startup log of testdata/vllm-logs.json.
type logCase struct {
	ID          string  `json:"id"`
	Source      string  `json:"source"`
	Model       string  `json:"model"`
	GPU         string  `json:"gpu"`
	GPUTotalGiB float64 `json:"gpu_total_gib"`
	VLLM        string  `json:"vllm"`
	DType       string  `json:"dtype"`
	KVDType     string  `json:"kv_cache_dtype"`
	Quant       string  `json:"quantization"`
	Util        float64 `json:"util"`
	MaxModelLen int     `json:"max_model_len"`
	TP          int     `json:"tp"`
	// MaxNumBatchedTokens / MaxNumSeqs where the run set them (0: the
	// engine's default).
	MaxNumBatchedTokens int  `json:"max_num_batched_tokens"`
	MaxNumSeqs          int  `json:"max_num_seqs"`
	FlashInfer          bool `json:"flashinfer_sampler"`
	CustomAR            bool `json:"custom_all_reduce"`
	ARFusion            bool `json:"all_reduce_fusion"`
	// Excluded names why a case is kept and printed but not scored (its
	// flags are not all known).
	Excluded string `json:"excluded"`
	// FittedBeforeSplit names a constant of predict.go derived from this
	// case before the hash split existed; a held-out case with it is
	// reported but left out of the clean held-out statistics.
	FittedBeforeSplit string `json:"fitted_before_split"`
	// WhyOff explains a case whose error is over the goal.
	WhyOff string   `json:"why_off"`
	Lines  []string `json:"lines"`
	Real   struct {
		KVTokens   int64   `json:"kv_tokens"`
		Blocks     int64   `json:"blocks"`
		PoolGiB    float64 `json:"pool_gib"`
		WeightsGiB float64 `json:"weights_gib"`
	} `json:"real"`
	// Fits is the start/fail verdict the log shows; nil for a log that
	// stops after loading the weights (only the weights are scored).
	Fits *bool `json:"fits"`
}

// gpuTotals are the CUDA-visible totals of the GPUs named in the logs that
// print none (kept here so that modelcfg needs no GPU table).
var gpuTotals = map[string]float64{"L40S": 44.52, "A100-80GB": 79.15, "A100-40GB": 39.39, "H100-80GB": 79.19} // internal/gpu/simgpu presets

type fidelityRow struct {
	id, split, engine string
	real, pred        int64
	realW, predW      float64 // weights per GPU, GiB (realW 0: not logged)
	errPct            float64 // (pred − real) / real × 100; NaN when the log has no pool
	fitsOK            bool
	verdict           bool // the log shows whether the engine started
	excluded          string
	fittedOn          string // a constant derived from this case before the split existed
	whyOff            string
	weights           string // the served weight format: quantization method or dtype
}

// heldOut reports whether a case is in the held-out third: FNV-1a of its id
// mod 3 is 0. The split depends on the id only, so adding a case never
// moves another; no constant of predict.go is fitted on a held-out case.
func heldOut(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%3 == 0
}

// TestPredictionFidelityAgainstPublicVLLMLogs prints, per public log, the
// real and predicted KV tokens and the error, with median and worst absolute
// error for the fitted and the held-out cases and per engine generation. It
// fails when a start/fail verdict is wrong or when an error bound that the
// model meets today is exceeded.
func TestPredictionFidelityAgainstPublicVLLMLogs(t *testing.T) {
	data, err := os.ReadFile("testdata/vllm-logs.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Configs map[string]json.RawMessage `json:"configs"`
		Cases   []logCase                  `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	var rows []fidelityRow
	for _, c := range file.Cases {
		cfg, err := Parse(file.Configs[c.Model])
		if err != nil {
			t.Fatalf("%s: config %s: %v", c.ID, c.Model, err)
		}
		total := c.GPUTotalGiB
		if total == 0 {
			total = gpuTotals[c.GPU]
		}
		p, err := Predict(cfg, PredictInput{TotalMemoryBytes: int64(total * float64(GiB)), GPUName: c.GPU,
			GPUMemoryUtilization: c.Util, MaxModelLen: c.MaxModelLen, DType: c.DType, KVCacheDType: c.KVDType,
			TensorParallelSize: c.TP, Quantization: c.Quant, MaxNumBatchedTokens: c.MaxNumBatchedTokens, MaxNumSeqs: c.MaxNumSeqs, VLLMVersion: c.VLLM, FlashInferSampler: c.FlashInfer,
			CustomAllReduce: c.CustomAR, AllReduceFusion: c.ARFusion})
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		r := fidelityRow{id: c.ID, split: "fit", engine: "V1", pred: p.KVTokens, errPct: math.NaN(), verdict: c.Fits != nil, fitsOK: c.Fits == nil || p.Fits == *c.Fits,
			realW: c.Real.WeightsGiB, predW: float64(p.WeightsBytes) / float64(GiB), excluded: c.Excluded, fittedOn: c.FittedBeforeSplit, whyOff: c.WhyOff, weights: p.DType}
		if p.Quantization != "" {
			r.weights = p.Quantization
		}
		if heldOut(c.ID) {
			r.split = "holdout"
		}
		if c.Excluded != "" {
			r.split = "excluded"
		}
		if prof, _ := Profile(c.VLLM); prof.ProfilesMaxModelLen {
			r.engine = "V0"
		}
		switch {
		case c.Real.KVTokens > 0:
			r.real = c.Real.KVTokens
		case c.Real.Blocks > 0:
			r.real = c.Real.Blocks * int64(p.BlockSize)
		case c.Real.PoolGiB > 0:
			// As vLLM reports it: blocks per KV-cache group × block size.
			r.real = int64(c.Real.PoolGiB*float64(GiB)) / p.BlockBytes / int64(p.FullGroups+p.SlidingGroups) * int64(p.BlockSize)
		}
		if r.real > 0 {
			r.errPct = float64(r.pred-r.real) / float64(r.real) * 100
		}
		if !r.fitsOK {
			t.Errorf("%s: predicted fits=%v (%s), the log says fits=%v", c.ID, p.Fits, p.Failure, *c.Fits)
		}
		rows = append(rows, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-40s %-8s %-3s %10s %10s %8s %-7s %s\n", "case", "split", "eng", "real", "predicted", "error", "verdict", "weights GiB real/predicted")
	for _, r := range rows {
		e := "   n/a"
		if !math.IsNaN(r.errPct) {
			e = fmt.Sprintf("%+6.1f%%", r.errPct)
		}
		v := "right"
		switch {
		case !r.verdict:
			v = "n/a"
		case !r.fitsOK:
			v = "WRONG"
		}
		w := ""
		if r.realW > 0 {
			w = fmt.Sprintf("%.2f/%.2f", r.realW, r.predW)
		}
		fmt.Fprintf(&b, "%-40s %-8s %-3s %10d %10d %8s %-7s %s\n", r.id, r.split, r.engine, r.real, r.pred, e, v, w)
	}
	for _, r := range rows {
		if r.excluded != "" {
			fmt.Fprintf(&b, "not scored: %s: %s\n", r.id, r.excluded)
		}
	}
	stats := func(label string, keep func(fidelityRow) bool) (median, worst float64, n int) {
		var errs []float64
		for _, r := range rows {
			if keep(r) && r.excluded == "" && !math.IsNaN(r.errPct) {
				errs = append(errs, math.Abs(r.errPct))
			}
		}
		if len(errs) == 0 {
			return 0, 0, 0
		}
		slices.Sort(errs)
		median = errs[len(errs)/2]
		if len(errs)%2 == 0 {
			median = (errs[len(errs)/2-1] + errs[len(errs)/2]) / 2
		}
		fmt.Fprintf(&b, "%-22s n=%2d  median |error| %5.1f%%  worst %5.1f%%\n", label, len(errs), median, errs[len(errs)-1])
		return median, errs[len(errs)-1], len(errs)
	}
	fmt.Fprintf(&b, "%d logs, %d with a KV figure\n", len(rows), func() (n int) {
		for _, r := range rows {
			if r.real > 0 {
				n++
			}
		}
		return n
	}())
	type summary struct{ median, worst float64 }
	sets := map[string]summary{}
	for _, split := range []string{"fit", "holdout", "holdout-clean"} {
		for _, engine := range []string{"", "V1", "V0"} {
			label := map[string]string{"fit": "fitted", "holdout": "held-out", "holdout-clean": "held-out, clean"}[split]
			if engine != "" {
				label += " " + engine
			}
			m, w, _ := stats(label, func(r fidelityRow) bool {
				inSplit := r.split == split || (split == "holdout-clean" && r.split == "holdout" && r.fittedOn == "")
				return inSplit && (engine == "" || r.engine == engine)
			})
			sets[split+engine] = summary{m, w}
		}
	}
	stats("all", func(fidelityRow) bool { return true })
	wrong, verdicts := 0, 0
	for _, r := range rows {
		if r.verdict {
			verdicts++
		}
		if !r.fitsOK {
			wrong++
		}
	}
	fmt.Fprintf(&b, "start/fail verdicts: %d of %d right\n", verdicts-wrong, verdicts)
	weightsWorst := weightStats(&b, rows)
	fmt.Fprintf(&b, "coverage: %s\n", coverage(file.Cases, rows))
	for _, r := range rows {
		if r.fittedOn != "" {
			fmt.Fprintf(&b, "held out but not independent: %s (%s was derived from it before the split)\n", r.id, r.fittedOn)
		}
	}
	for _, r := range rows {
		goal := 8.0
		if r.engine == "V0" {
			goal = 15
		}
		if r.excluded == "" && math.Abs(r.errPct) > goal {
			why := r.whyOff
			if why == "" {
				why = "not explained"
			}
			fmt.Fprintf(&b, "over the %g%% goal: %s %+.1f%%: %s\n", goal, r.id, r.errPct, why)
		}
	}
	t.Log(b.String())
	// The goals (median 3 %, worst 8 % V1, 15 % V0) where the model
	// meets them; elsewhere the bound is today's figure, so that a
	// regression fails; each case over its goal prints its why_off.
	for _, bound := range []struct {
		name  string
		got   float64
		limit float64
	}{
		{"fitted median", sets["fit"].median, 3},
		{"fitted V0 worst", sets["fitV0"].worst, fidelityFittedV0WorstPct},
		{"fitted V1 worst", sets["fitV1"].worst, 8},
		{"held-out median", sets["holdout"].median, 3},
		{"held-out V1 worst", sets["holdoutV1"].worst, 8},
		{"held-out V0 worst", sets["holdoutV0"].worst, fidelityHeldOutV0WorstPct},
		{"weights worst", weightsWorst, fidelityWeightsWorstPct},
	} {
		if bound.got > bound.limit {
			t.Errorf("fidelity: %s |error| %.1f%%, bound %g%%", bound.name, bound.got, bound.limit)
		}
	}
}

// Bounds above the goals, each held by one case whose miss is
// explained by its why_off in testdata/vllm-logs.json.
const (
	fidelityFittedV0WorstPct  = 29.0 // augmxnt-mi300x-llama31-405b-tp8
	fidelityHeldOutV0WorstPct = 50.0 // pr2031-a100-80gb-llama2-70b-tp4
)

// fidelityWeightsWorstPct bounds the per-rank weight error ("Model loading
// took") over every log that prints it: today's worst case,
// awskr-p4d-a100-40gb-dscoder-v2-lite-tp8 (3.66 predicted, 3.97 GiB logged):
// vLLM v0.7's MLA backend absorbs W_UK into q_proj and W_UV into o_proj at
// load (W_Q_UK, W_UV_O in the activation dtype, kept beside the originals:
// 2 × 2048 × 2 heads × 512 × 27 layers × 2 B = 0.21 GiB per rank at TP=8),
// and the releases that did so are not pinned, so it is not modelled. Next
// is llmdplanner-gpt-oss-20b-h100-v0.19-tp2 (6.81 predicted, 7.01 GiB: the
// Triton MXFP4 swizzle on Hopper at TP=2, not modelled).
const fidelityWeightsWorstPct = 8.0

// weightStats prints the median and worst |error| of the predicted per-rank
// weights, overall and per weight format, and returns the worst.
func weightStats(b *strings.Builder, rows []fidelityRow) float64 {
	byFormat := map[string][]float64{}
	var all []float64
	for _, r := range rows {
		if r.realW <= 0 {
			continue
		}
		e := math.Abs(r.predW-r.realW) / r.realW * 100
		all = append(all, e)
		byFormat[r.weights] = append(byFormat[r.weights], e)
	}
	summary := func(errs []float64) (median, worst float64) {
		slices.Sort(errs)
		median = errs[len(errs)/2]
		if len(errs)%2 == 0 {
			median = (errs[len(errs)/2-1] + errs[len(errs)/2]) / 2
		}
		return median, errs[len(errs)-1]
	}
	if len(all) == 0 {
		return 0
	}
	median, worst := summary(all)
	fmt.Fprintf(b, "%-22s n=%2d  median |error| %5.1f%%  worst %5.1f%%\n", "weights (GiB/rank)", len(all), median, worst)
	formats := make([]string, 0, len(byFormat))
	for f := range byFormat {
		formats = append(formats, f)
	}
	slices.Sort(formats)
	for _, f := range formats {
		m, w := summary(byFormat[f])
		fmt.Fprintf(b, "  %-20s n=%2d  median |error| %5.1f%%  worst %5.1f%%\n", f, len(byFormat[f]), m, w)
	}
	return worst
}

// coverage lists the distinct GPUs, TP sizes, weight formats, KV dtypes
// and vLLM releases of the cases.
func coverage(cases []logCase, rows []fidelityRow) string {
	sets := map[string]map[string]bool{}
	add := func(kind, v string) {
		if sets[kind] == nil {
			sets[kind] = map[string]bool{}
		}
		sets[kind][v] = true
	}
	for i, c := range cases {
		add("GPUs", c.GPU)
		add("TP", fmt.Sprint(max(c.TP, 1)))
		add("weights", rows[i].weights)
		kv := c.KVDType
		if kv == "" {
			kv = "auto"
		}
		add("KV", kv)
		add("vLLM", c.VLLM)
	}
	var parts []string
	for _, kind := range []string{"GPUs", "TP", "weights", "KV", "vLLM"} {
		vals := make([]string, 0, len(sets[kind]))
		for v := range sets[kind] {
			vals = append(vals, v)
		}
		slices.Sort(vals)
		parts = append(parts, fmt.Sprintf("%s %s", kind, strings.Join(vals, ",")))
	}
	return strings.Join(parts, "; ")
}
