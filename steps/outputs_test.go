package steps

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load/loadtest"
	"github.com/runexp/runexp/internal/results"
)

func TestEveryBuiltinKindDeclaresItsOutputs(t *testing.T) {
	for _, k := range Builtin().Kinds() {
		if _, ok := k.New().(Producer); !ok {
			t.Errorf("kind %s does not implement Producer", k.Name)
		}
	}
}

func declared(o results.Outputs) *results.Names {
	var n results.Names
	n.Add(o.Values...)
	return &n
}

func TestLoadDeclaresPerModeValuesMetadataAndTables(t *testing.T) {
	l := newLoad().(*Load)
	l.Modes = []LoadMode{{Kind: "sequential"}, {Name: "burst", Kind: "rate"}}
	l.Metadata = map[string]string{"engine": "sim"}
	o := l.Outputs("")
	names := declared(o)
	for _, want := range []string{"sequential_s", "burst_output_throughput", "burst_max_concurrent_requests", "engine"} {
		if !names.Has(want) {
			t.Errorf("%s not declared", want)
		}
	}
	if names.Has("rate_s") {
		t.Error("a named mode declared its kind's names")
	}
	var summary results.Names
	summary.Add(o.Tables["load.summary"]...)
	for _, want := range []string{"mode", "output_throughput", "errors_by_class.timeout", "engine"} {
		if !summary.Has(want) {
			t.Errorf("load.summary column %s not declared", want)
		}
	}
	if !slices.Contains(o.Tables["load.requests"], "ttft_ms") || !slices.Contains(o.Tables["load.requests"], "engine") {
		t.Errorf("load.requests columns %v", o.Tables["load.requests"])
	}
}

func TestMeasureDeclaresLogCapturesAndDeviceNamesBehindItsPrefix(t *testing.T) {
	m := newMeasure().(*Measure)
	m.Log = "vllm"
	m.Prefix = "a_"
	m.LogRules = []LogRule{{Pattern: `took (?P<step_s>\d+) (?P<step_s_unit>ms)`}}
	names := declared(m.Outputs(""))
	for _, want := range []string{"a_kv_cache_tokens", "a_gpu_mem_used_mb", "a_step_s"} {
		if !names.Has(want) {
			t.Errorf("%s not declared", want)
		}
	}
	for _, unwanted := range []string{"kv_cache_tokens", "a_step_s_unit", "a_host_rss_mb"} {
		if names.Has(unwanted) {
			t.Errorf("%s declared", unwanted)
		}
	}
	m.Baseline = true
	if names := declared(m.Outputs("")); names.Has("a_gpu_mem_used_mb") || !names.Has("a_gpu_mem_baseline_mb") {
		t.Errorf("a baseline reading declares %v", names.List())
	}
}

func TestWaitReadyDeclaresReadyTimeUnderTheServerItProbes(t *testing.T) {
	w := newWaitReady().(*WaitReady)
	if !declared(w.Outputs("srv")).Has("srv_ready_s") {
		t.Error("default server: srv_ready_s not declared")
	}
	w.Server = "other"
	if !declared(w.Outputs("srv")).Has("other_ready_s") {
		t.Error("named server: other_ready_s not declared")
	}
}

// assertDeclared fails for every value or table column env holds that the
// step's Outputs do not declare.
func assertDeclared(t *testing.T, o results.Outputs, env *Env) {
	t.Helper()
	values := declared(o)
	for _, k := range env.Values().Keys() {
		if !values.Has(k) {
			t.Errorf("value %s recorded but not declared", k)
		}
	}
	for table, rows := range env.Tables() {
		var cols results.Names
		cols.Add(o.Tables[table]...)
		for _, row := range rows {
			for _, k := range row.Keys() {
				if !cols.Has(k) {
					t.Errorf("%s column %s recorded but not declared", table, k)
				}
			}
		}
	}
}

func TestLoadDeclaresEverythingItRecords(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	env := newTestEnv(t)
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 2}, LoadMode{Name: "burst", Kind: "concurrent", Concurrency: 2, Requests: 2})
	l.Metadata = map[string]string{"engine": "sim"}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	assertDeclared(t, l.Outputs(""), env)
}

func TestLoadMetadataMayNotReuseANameItsRowsHold(t *testing.T) {
	l := newLoadStep("http://127.0.0.1:9", LoadMode{Kind: "sequential", Requests: 1})
	for _, name := range []string{"status", "seconds", "error_class", "output_throughput", "errors_by_class.timeout"} {
		l.Metadata = map[string]string{name: "x"}
		if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "records itself") {
			t.Errorf("metadata %s: %v, want a clash error", name, err)
		}
	}
}

func TestMeasureDeclaresEverythingItRecords(t *testing.T) {
	env := envWithLoggedServer(t)
	m := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Log: "vllm", Metrics: "/metrics",
		LogRules: []LogRule{{Pattern: `Loading weights took (?P<weights_load_ms>[\d.]+) (?P<weights_load_ms_unit>seconds)`, Units: map[string]string{"weights_load_ms": "ms"}}},
		JSON:     []JSONCheck{{Path: "/v1/models", Field: "data[0].max_model_len"}, {Path: "/v1/models", Field: "data[0].id", Record: "served_model"}},
		Predict:  &PredictConfig{Model: "microsoft/Phi-3-mini-4k-instruct", MaxModelLen: 2048, GPUMemoryUtilization: 0.9, TotalMemoryGiB: 80}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	mustValue(t, env, "predicted_kv_tokens")
	assertDeclared(t, m.Outputs(""), env)
}

func TestMeasureDeclaresTheHostBackendsNames(t *testing.T) {
	env := newTestEnv(t)
	launch(t, env, "server", freePort(t))
	defer func() {
		env.RunCleanups(context.Background())
		assertNoLeftovers(t, binDir)
	}()
	m := &Measure{GPUSpec: GPUSpec{GPU: "host"}}
	if err := m.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	mustValue(t, env, "host_rss_mb")
	o := m.Outputs("")
	o.AddValues("server_pid") // the launch's
	assertDeclared(t, o, env)
}
