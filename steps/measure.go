package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/enginelog"
	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/modelcfg"
	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/internal/promscrape"
	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// Measure records one row of named values at a point: device memory (and
// the launched process tree's share), values from the server's log, its
// Prometheus /metrics and JSON endpoints, and a prediction of the KV cache
// from the model's config.json. With baseline: true it only reads device
// memory before a launch, for the delta and the release check.
type Measure struct {
	GPUSpec   `yaml:",inline"`
	ServerRef `yaml:",inline"`
	Baseline  bool           `yaml:"baseline" json:"baseline,omitempty" doc:"read device memory before launch (gpu_mem_baseline_mb) and nothing else"`
	Settle    spec.Duration  `yaml:"settle" json:"settle,omitempty" doc:"wait this long before reading"`
	Log       string         `yaml:"log" json:"log,omitempty" doc:"engine log preset: vllm or ollama"`
	LogRules  []LogRule      `yaml:"log_rules" json:"log_rules,omitempty" doc:"extra regular expressions with named captures, applied to the server log"`
	Metrics   string         `yaml:"metrics" json:"metrics,omitempty" doc:"path of the server's Prometheus metrics to scrape, e.g. /metrics (vLLM names)"`
	JSON      []JSONCheck    `yaml:"json" json:"json,omitempty" doc:"JSON fields to record from the server, e.g. /v1/models data[0].max_model_len"`
	Predict   *PredictConfig `yaml:"predict" json:"predict,omitempty" doc:"predict vLLM's KV cache from a model config"`
	Require   []string       `yaml:"require" json:"require,omitempty" doc:"value names that must be recorded, or the step fails"`
	Prefix    string         `yaml:"prefix" json:"prefix,omitempty" doc:"prefix for every recorded name, to compare backends at one point (e.g. smi_)"`
}

// LogRule is one regular expression with named captures.
type LogRule struct {
	Pattern string            `yaml:"pattern" json:"pattern" doc:"RE2 regular expression; each named capture (?P<name>...) is a value"`
	Units   map[string]string `yaml:"units" json:"units,omitempty" doc:"capture name: unit to convert to (MiB, GiB, ...); the source unit is the capture name_unit"`
}

// PredictConfig describes what vLLM would allocate.
type PredictConfig struct {
	Model                string  `yaml:"model" json:"model" doc:"preset name (e.g. microsoft/Phi-3-mini-4k-instruct) or path of a config.json"`
	MaxModelLen          int     `yaml:"max_model_len" json:"max_model_len" doc:"--max-model-len"`
	GPUMemoryUtilization float64 `yaml:"gpu_memory_utilization" json:"gpu_memory_utilization" doc:"--gpu-memory-utilization"`
	TotalMemoryGiB       float64 `yaml:"total_memory_gib" json:"total_memory_gib,omitempty" doc:"GPU memory vLLM sees; default: the measured device total less reserved memory"`
	KVCacheDType         string  `yaml:"kv_cache_dtype" json:"kv_cache_dtype,omitempty" doc:"--kv-cache-dtype"`
	DType                string  `yaml:"dtype" json:"dtype,omitempty" doc:"--dtype"`
	EnforceEager         bool    `yaml:"enforce_eager" json:"enforce_eager,omitempty" doc:"--enforce-eager"`
}

func newMeasure() Step {
	return &Measure{GPUSpec: GPUSpec{GPU: "auto"}}
}

// Validate reports every problem of the configuration, each at its key.
func (m *Measure) Validate() error {
	var p spec.Problems
	m.GPUSpec.validate(&p, true)
	if m.Log != "" {
		if _, ok := enginelog.Preset(m.Log); !ok {
			p.Add("log", "%s", spec.NotInEnum(m.Log, enginelog.PresetNames()))
		}
	}
	for i, r := range m.LogRules {
		if _, err := enginelog.Compile([]enginelog.Rule{{Pattern: r.Pattern, Units: r.Units}}); err != nil {
			p.Add(fmt.Sprintf("log_rules[%d].pattern", i), "%v", err)
		}
	}
	if m.Metrics != "" && !strings.HasPrefix(m.Metrics, "/") {
		p.Add("metrics", "must be a path starting with /")
	}
	if pr := m.Predict; pr != nil {
		if pr.Model == "" {
			p.Add("predict.model", "missing")
		} else if _, ok := modelcfg.Preset(pr.Model); !ok && !strings.HasSuffix(pr.Model, ".json") {
			p.Add("predict.model", "%q is neither a preset (%s) nor a config.json path", pr.Model, strings.Join(modelcfg.PresetNames(), ", "))
		}
	}
	return p.Err()
}

// SetTarget records the server URL for the plan when the step reads it.
func (m *Measure) SetTarget(launches map[string]Launcher, last string) {
	if m.Metrics != "" || len(m.JSON) > 0 {
		m.Target = targetURL(launches, last, m.Server, "")
	}
}

// baselineKey is the Env key of the device memory a measure step read with
// baseline: true, per backend and set of devices read (their UUIDs, so any
// spelling of the same selection matches), so that a delta or a release
// check compares readings of the same devices.
func baselineKey(b gpu.Backend, uuids []string) string {
	return "gpu.baseline|" + b.Name() + "|" + strings.Join(slices.Sorted(slices.Values(uuids)), ",")
}

// recorder records named values; Env is one, prefixed adds a name prefix.
type recorder interface {
	Set(name string, v any)
	Value(name string) (any, bool)
}

type prefixed struct {
	env    *Env
	prefix string
}

func (p prefixed) Set(name string, v any)        { p.env.Set(p.prefix+name, v) }
func (p prefixed) Value(name string) (any, bool) { return p.env.Value(p.prefix + name) }

// readsServer reports whether a source needs the launched server: its log,
// /metrics or JSON endpoints.
func (m *Measure) readsServer() bool {
	return !m.Baseline && (m.Log != "" || len(m.LogRules) > 0 || m.Metrics != "" || len(m.JSON) > 0)
}

// UsesServer names the launch measure reads: the engine log, /metrics and
// JSON sources need one; device memory is read with or without one.
func (m *Measure) UsesServer() (id, needs string) {
	if m.readsServer() {
		needs = "measure's log, metrics or json"
	}
	return m.Server, needs
}

// Run reads every configured source in turn (device memory, the engine
// log, /metrics, JSON fields, the prediction) and records what it read. A
// source that answers badly is a problem reported after the others were
// read; no GPU, or no server for the sources that need one, stops the step.
func (m *Measure) Run(ctx context.Context, env *Env) error {
	if err := sleepCtx(ctx, m.Settle.D()); err != nil {
		return err
	}
	rec := prefixed{env, m.Prefix}
	var problems []string
	var total uint64
	if m.GPU != GPUNone {
		var err error
		if total, problems, err = m.readDevice(ctx, env, rec); err != nil {
			return err
		}
	}
	if m.Baseline {
		return nil
	}
	if m.readsServer() {
		srv, err := env.Server(m.Server)
		if err != nil {
			return err
		}
		if err := m.readEngineLog(srv, rec); err != nil {
			return err
		}
		client := &http.Client{Timeout: 10 * time.Second}
		problems = append(problems, m.readMetrics(ctx, client, srv, rec)...)
		problems = append(problems, m.readJSON(ctx, client, srv, rec)...)
	}
	if m.Predict != nil {
		if err := m.predict(env, rec, total); err != nil {
			problems = append(problems, "predict: "+err.Error())
		}
	}
	for _, name := range m.Require {
		if _, ok := rec.Value(name); !ok {
			problems = append(problems, fmt.Sprintf("required value %s was not recorded", name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// readDevice records device memory: the total, and either the baseline
// (kept for later deltas and the release check) or the used memory, its
// delta from the baseline and the launched server's share. It returns the
// memory usable by an engine, for the prediction.
func (m *Measure) readDevice(ctx context.Context, env *Env, rec recorder) (usable uint64, problems []string, err error) {
	b, err := env.GPUs.Open(ctx, m.GPUSpec)
	if err != nil {
		return 0, nil, err
	}
	t, err := readMemory(ctx, b)
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", b.Name(), err)
	}
	usable = t.total - t.reserved
	// The host backend measures a CPU engine: its names say host, not gpu.
	dev := "gpu_"
	if b.Name() == "host" {
		dev = "host_"
	}
	rec.Set(dev+"backend", b.Name())
	if dev == "gpu_" {
		rec.Set("gpu_uuid", strings.Join(t.uuids, ","))
		if len(t.names) > 0 {
			rec.Set("gpu_name", strings.Join(t.names, ","))
		}
	}
	rec.Set(dev+"total_mb", round1(mib(t.total)))
	if m.Baseline {
		rec.Set(dev+"mem_baseline_mb", round1(mib(t.used)))
		env.SetShared(baselineKey(b, t.uuids), t.used)
		return usable, nil, nil
	}
	rec.Set(dev+"mem_used_mb", round1(mib(t.used)))
	if base, ok := env.Shared(baselineKey(b, t.uuids)); ok {
		rec.Set(dev+"mem_delta_mb", round1(mib(t.used)-mib(base.(uint64))))
	}
	if s, err := env.Server(m.Server); err == nil {
		if err := readServerMemory(ctx, env, rec, b, dev, s); err != nil {
			problems = append(problems, "per-process memory: "+err.Error())
		}
	}
	return usable, problems, nil
}

// readServerMemory records the memory of the server's process tree: RSS
// and PSS on the host backend, device memory on a GPU when the driver
// reports it for every process.
func readServerMemory(ctx context.Context, env *Env, rec recorder, b gpu.Backend, dev string, s *Server) error {
	procs, err := b.Processes(ctx, proc.TreePIDs(s.Proc))
	if err != nil {
		return err
	}
	var used, pss uint64
	unknown := 0
	for _, p := range procs {
		used += p.Used
		pss += p.PSS
		if p.Unknown {
			unknown++
		}
	}
	if unknown > 0 {
		// No number beats a wrong 0 (containers, MIG, permissions);
		// the device figures still stand, so the step goes on.
		fmt.Fprintf(env.Log, "per-process GPU memory: the driver does not report it for %d of %d processes of the server; gpu_proc_mem_mb not recorded\n", unknown, len(procs))
	}
	if dev == "host_" {
		rec.Set("host_rss_mb", round1(mib(used)))
		if pss > 0 {
			rec.Set("host_pss_mb", round1(mib(pss)))
		}
	} else if unknown == 0 {
		rec.Set("gpu_proc_mem_mb", round1(mib(used)))
	}
	rec.Set(dev+"procs", len(procs))
	return nil
}

// readEngineLog records every capture of the log preset and rules: numbers
// as numbers, the rest (vllm_version, ...) as text.
func (m *Measure) readEngineLog(srv *Server, rec recorder) error {
	if m.Log == "" && len(m.LogRules) == 0 {
		return nil
	}
	var rules []enginelog.Rule
	if m.Log != "" {
		rules, _ = enginelog.Preset(m.Log)
	}
	for _, r := range m.LogRules {
		rules = append(rules, enginelog.Rule{Pattern: r.Pattern, Units: r.Units})
	}
	text, err := readLog(srv.LogPath)
	if err != nil {
		return err
	}
	res, err := enginelog.Extract(text, rules)
	if err != nil {
		return err
	}
	for _, k := range results.SortedKeys(res.Text) {
		if v, ok := res.Values[k]; ok {
			rec.Set(k, v)
		} else {
			rec.Set(k, res.Text[k])
		}
	}
	return nil
}

// readMetrics records the server's Prometheus metrics as metrics_<name>.
func (m *Measure) readMetrics(ctx context.Context, client *http.Client, srv *Server, rec recorder) (problems []string) {
	if m.Metrics == "" {
		return nil
	}
	v, err := promscrape.ScrapeVLLM(ctx, client, srv.URL+m.Metrics)
	if err != nil {
		return []string{"metrics: " + err.Error()}
	}
	for _, k := range results.SortedKeys(v.Values) {
		rec.Set("metrics_"+k, v.Values[k])
	}
	return nil
}

// readJSON records each JSON field, under its record: name or one made
// from the field path (data[0].max_model_len: data_0_max_model_len).
func (m *Measure) readJSON(ctx context.Context, client *http.Client, srv *Server, rec recorder) (problems []string) {
	for _, c := range m.JSON {
		if c.Record == "" {
			c.Record = strings.NewReplacer("[", "_", "]", "", ".", "_").Replace(c.Field)
		}
		if err := c.check(ctx, client, srv.URL, rec); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

func (m *Measure) predict(env *Env, rec recorder, measuredTotal uint64) error {
	p := m.Predict
	cfg, ok := modelcfg.Preset(p.Model)
	if !ok {
		path := p.Model
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.SpecDir, path)
		}
		var err error
		if cfg, err = modelcfg.Load(path); err != nil {
			return err
		}
	}
	totalBytes := int64(p.TotalMemoryGiB * (1 << 30))
	if totalBytes == 0 {
		totalBytes = int64(measuredTotal)
	}
	if totalBytes == 0 {
		return fmt.Errorf("no GPU total: give predict.total_memory_gib or a gpu backend")
	}
	pr, err := modelcfg.Predict(cfg, modelcfg.PredictInput{TotalMemoryBytes: totalBytes, GPUMemoryUtilization: p.GPUMemoryUtilization,
		MaxModelLen: p.MaxModelLen, DType: p.DType, KVCacheDType: p.KVCacheDType, EnforceEager: p.EnforceEager})
	if err != nil {
		return err
	}
	rec.Set("predicted_kv_bytes_per_token", pr.KVBytesPerToken)
	rec.Set("predicted_kv_pool_gib", round3(float64(pr.KVPoolBytes)/(1<<30)))
	rec.Set("predicted_kv_tokens", pr.KVTokens)
	rec.Set("predicted_max_concurrency", pr.EngineConcurrency)
	rec.Set("predicted_weights_gib", round3(float64(pr.WeightsBytes)/(1<<30)))
	rec.Set("predicted_fits", pr.Fits)
	return nil
}

// readLog reads at most the last 8 MiB of a log.
func readLog(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	const max = 8 << 20
	off := int64(0)
	if st.Size() > max {
		off = st.Size() - max
	}
	buf := make([]byte, st.Size()-off)
	_, err = f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return string(buf), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
