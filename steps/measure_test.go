package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/gpu/smi"
	"github.com/runexp/runexp/spec"
)

// writeSimState publishes a simulated server's allocation for pid, as
// `runexp sim serve` does.
func writeSimState(t *testing.T, dir string, pid int, used uint64) {
	t.Helper()
	g, err := simgpu.LookupGPU("")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(simgpu.ServerState{PID: pid, GPU: g.Name, GPUUUID: g.UUID(), TotalBytes: g.MemoryBytes,
		UsedBytes: used, Phase: "ready", Updated: time.Now()})
	if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(pid)+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMeasureSimBaselineDelta(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(simgpu.StateDirEnv, dir)
	env := newTestEnv(t)
	base := &Measure{GPUSpec: GPUSpec{GPU: "sim"}, Baseline: true}
	if err := base.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	g, _ := simgpu.LookupGPU("")
	if v := mustValue(t, env, "gpu_mem_baseline_mb"); v != 0.0 {
		t.Errorf("baseline %v on an idle simulated GPU", v)
	}
	if v := mustValue(t, env, "gpu_backend"); v != "sim" {
		t.Errorf("gpu_backend %v", v)
	}
	// gpu: sim without sim_gpu follows the running simulator; its device
	// keeps one UUID whatever GPU that is, so baselines stay comparable.
	if v := mustValue(t, env, "gpu_uuid"); v != simgpu.LaunchedUUID {
		t.Errorf("gpu_uuid %v", v)
	}
	if v := mustValue(t, env, "gpu_name"); v != g.Product {
		t.Errorf("gpu_name %v", v)
	}
	if v := mustValue(t, env, "gpu_total_mb"); v != round1(mib(g.MemoryBytes)) {
		t.Errorf("gpu_total_mb %v", v)
	}
	if _, ok := env.Value("gpu_mem_used_mb"); ok {
		t.Error("a baseline measure recorded gpu_mem_used_mb")
	}

	// This test process stands in for a server holding 3 GiB.
	writeSimState(t, dir, os.Getpid(), 3*gib)
	m := &Measure{GPUSpec: GPUSpec{GPU: "sim"}}
	if err := m.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, env, "gpu_mem_used_mb"); v != 3072.0 {
		t.Errorf("gpu_mem_used_mb %v", v)
	}
	if v := mustValue(t, env, "gpu_mem_delta_mb"); v != 3072.0 {
		t.Errorf("gpu_mem_delta_mb %v", v)
	}
	if _, ok := env.Value("gpu_proc_mem_mb"); ok {
		t.Error("gpu_proc_mem_mb recorded without a launched server")
	}
}

// The whole sequence on the simulated GPU with a real process: baseline,
// launch, measure (the server's own share), teardown, release check.
func TestMeasureSimServerProcessAndRelease(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(simgpu.StateDirEnv, dir)
	env := newTestEnv(t)
	gs := GPUSpec{GPU: "sim"}
	if err := (&Measure{GPUSpec: gs, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	s := launch(t, env, "server", freePort(t))
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	writeSimState(t, dir, s.Proc.PID(), 2*gib)
	writeSimState(t, dir, os.Getpid(), gib) // someone else on the GPU
	if err := (&Measure{GPUSpec: gs}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{"gpu_mem_used_mb": 3072.0, "gpu_mem_delta_mb": 3072.0, "gpu_proc_mem_mb": 2048.0, "gpu_procs": 1} {
		if v := mustValue(t, env, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	os.Remove(filepath.Join(dir, strconv.Itoa(os.Getpid())+".json"))
	if err := runWithTimeout(&Teardown{}, env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rc := newReleaseCheck().(*ReleaseCheck)
	rc.GPUSpec = gs
	rc.Within = spec.Duration(5 * time.Second)
	if err := runWithTimeout(rc, env, 10*time.Second); err != nil {
		t.Fatalf("release-check after teardown: %v", err)
	}
	if v := mustValue(t, env, "gpu_mem_after_mb"); v != 0.0 {
		t.Errorf("gpu_mem_after_mb %v", v)
	}
	assertNoLeftovers(t, binDir)
}

// vllmServer serves vLLM-like /metrics and /v1/models.
func vllmServer(t *testing.T) *httptest.Server {
	metrics, err := os.ReadFile("testdata/vllm-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(metrics)
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"microsoft/Phi-3-mini-4k-instruct","max_model_len":2048}]}`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// envWithLoggedServer registers a server (no process) whose log is the
// vLLM startup fixture and whose URL is a fake vLLM API.
func envWithLoggedServer(t *testing.T) *Env {
	t.Helper()
	env := newTestEnv(t)
	logText, err := os.ReadFile("testdata/vllm-startup.log")
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(env.PointDir, "server.log")
	os.WriteFile(logFile, logText, 0o644)
	env.AddServer(&Server{ID: "server", URL: vllmServer(t).URL, LogPath: logFile})
	return env
}

func TestMeasureLogMetricsJSON(t *testing.T) {
	env := envWithLoggedServer(t)
	m := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Log: "vllm", Metrics: "/metrics",
		LogRules: []LogRule{{Pattern: `Loading weights took (?P<weights_load_ms>[\d.]+) (?P<weights_load_ms_unit>seconds)`, Units: map[string]string{"weights_load_ms": "ms"}}},
		JSON:     []JSONCheck{{Path: "/v1/models", Field: "data[0].max_model_len"}, {Path: "/v1/models", Field: "data[0].id", Record: "served_model"}},
		Require:  []string{"kv_cache_tokens", "metrics_num_gpu_blocks", "data_0_max_model_len"}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"kv_cache_tokens":              170432.0,
		"max_concurrency":              82.58,
		"max_concurrency_len":          2048.0,
		"kv_cache_memory_gib":          62.41,
		"model_load_gib":               7.1184,
		"cuda_graph_gib":               0.49,
		"max_num_batched_tokens":       8192.0,
		"kv_cache_usage_pct":           1.9, // the last periodic stats line wins
		"weights_load_ms":              2050.0,
		"metrics_num_gpu_blocks":       10652.0,
		"metrics_block_size":           16.0,
		"metrics_kv_cache_usage_perc":  0.2134,
		"metrics_num_requests_running": 37.0,
		"data_0_max_model_len":         2048.0,
		"served_model":                 "microsoft/Phi-3-mini-4k-instruct",
	}
	for name, w := range want {
		if v := mustValue(t, env, name); !sameValue(v, w) {
			t.Errorf("%s = %v (%T), want %v", name, v, v, w)
		}
	}
	for _, k := range env.Values().Keys() {
		if strings.HasPrefix(k, "gpu_") {
			t.Errorf("gpu: none recorded %s", k)
		}
	}
}

// sameValue is ==, with floats equal to 1e-9 relative.
func sameValue(a, b any) bool {
	fa, okA := a.(float64)
	fb, okB := b.(float64)
	if okA && okB {
		return math.Abs(fa-fb) <= 1e-9*math.Max(1, math.Abs(fb))
	}
	return a == b
}

// Values a log rule captures as text (the vllm preset's vllm_version, or any
// non-numeric capture of log_rules) are recorded as strings.
func TestMeasureRecordsTextCapturesOfLogRules(t *testing.T) {
	env := envWithLoggedServer(t)
	m := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Log: "vllm",
		LogRules: []LogRule{{Pattern: `Initializing a V1 LLM engine \((?P<engine_version>v[\w.]+)\)`}}}
	err := m.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"vllm_version": "0.11.0", "engine_version": "v0.11.0"} {
		if v, ok := env.Value(name); !ok || v != want {
			t.Errorf("text capture %s = %v (recorded %v), want %q", name, v, ok, want)
		}
	}
}

func TestMeasurePrefixAndRequire(t *testing.T) {
	env := envWithLoggedServer(t)
	m := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Log: "vllm", Prefix: "a_", Require: []string{"kv_cache_tokens"}}
	if err := m.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, env, "a_kv_cache_tokens"); v != 170432.0 {
		t.Errorf("a_kv_cache_tokens %v", v)
	}
	if _, ok := env.Value("kv_cache_tokens"); ok {
		t.Error("unprefixed name recorded")
	}
	m = &Measure{GPUSpec: GPUSpec{GPU: "none"}, Log: "vllm", Prefix: "b_", Require: []string{"kv_cache_tokens", "no_such_value", "also_missing"}}
	err := m.Run(context.Background(), env)
	if err == nil || err.Error() != "required value no_such_value was not recorded; required value also_missing was not recorded" {
		t.Errorf("err %v", err)
	}
	if _, ok := env.Value("b_kv_cache_tokens"); !ok {
		t.Error("values are not recorded when a requirement fails")
	}
}

func TestMeasureProblemsKeepGoing(t *testing.T) {
	env := envWithLoggedServer(t)
	m := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Metrics: "/nope", Log: "vllm",
		JSON: []JSONCheck{{Path: "/v1/models", Field: "data[3].id"}}}
	err := m.Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "metrics: ") || !strings.Contains(err.Error(), "data[3].id: no element [3]") {
		t.Errorf("err %v", err)
	}
	mustValue(t, env, "kv_cache_tokens")
}

func TestMeasureNeedsServer(t *testing.T) {
	for name, m := range map[string]*Measure{
		"log":     {GPUSpec: GPUSpec{GPU: "none"}, Log: "vllm"},
		"metrics": {GPUSpec: GPUSpec{GPU: "none"}, Metrics: "/metrics"},
		"json":    {GPUSpec: GPUSpec{GPU: "none"}, JSON: []JSONCheck{{Path: "/v1/models", Field: "x"}}},
	} {
		env := newTestEnv(t)
		if err := m.Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "no server has been launched") {
			t.Errorf("%s: %v", name, err)
		}
	}
	env := newTestEnv(t)
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "none"}, Baseline: true}).Run(context.Background(), env); err != nil || env.Values().Len() != 0 {
		t.Errorf("baseline with gpu none: %v, %v", err, env.Values().Keys())
	}
	// A missing log file is an error, not silence.
	env.AddServer(&Server{ID: "s", LogPath: filepath.Join(env.PointDir, "missing.log")})
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "none"}, Log: "vllm"}).Run(context.Background(), env); err == nil {
		t.Error("missing log: no error")
	}
}

func TestMeasurePredict(t *testing.T) {
	env := newTestEnv(t)
	env.SpecDir = "testdata"
	for _, model := range []string{"microsoft/Phi-3-mini-4k-instruct", "phi3-mini-4k-config.json"} {
		m := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Prefix: "p_",
			Predict: &PredictConfig{Model: model, MaxModelLen: 4096, TotalMemoryGiB: 79.18}}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background(), env); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if v := mustValue(t, env, "p_predicted_kv_bytes_per_token"); v != int64(393216) {
			t.Errorf("%s: predicted_kv_bytes_per_token %v (%T)", model, v, v)
		}
		if v := mustValue(t, env, "p_predicted_fits"); v != true {
			t.Errorf("%s: predicted_fits %v", model, v)
		}
		tokens := mustValue(t, env, "p_predicted_kv_tokens").(int64)
		pool := mustValue(t, env, "p_predicted_kv_pool_gib").(float64)
		// The pool holds tokens × bytes per token, within one block.
		if got := float64(tokens) * 393216 / (1 << 30); got > pool+0.01 || got < pool-0.01 {
			t.Errorf("%s: %d tokens × 393216 B = %.3f GiB, pool %.3f GiB", model, tokens, got, pool)
		}
		for _, k := range []string{"p_predicted_max_concurrency", "p_predicted_weights_gib"} {
			mustValue(t, env, k)
		}
	}
	// Without a GPU total the prediction is a problem, reported.
	m := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Predict: &PredictConfig{Model: "microsoft/Phi-3-mini-4k-instruct"}}
	if err := m.Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "predict: no GPU total") {
		t.Errorf("no total: %v", err)
	}
	m.Predict = &PredictConfig{Model: "missing-config.json", TotalMemoryGiB: 80}
	if err := m.Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "predict: ") {
		t.Errorf("missing config: %v", err)
	}
}

// With a GPU backend, predict uses the device total less reserved memory.
func TestMeasurePredictFromDevice(t *testing.T) {
	f, gs := newFakeGPU(t)
	f.total = 80 * gib
	visible := 79.18 // GiB, as in predict.total_memory_gib below
	f.reserved = 80*gib - uint64(visible*gib)
	env := newTestEnv(t)
	m := &Measure{GPUSpec: gs, Predict: &PredictConfig{Model: "microsoft/Phi-3-mini-4k-instruct", MaxModelLen: 4096}}
	if err := m.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	ref := newTestEnv(t)
	m2 := &Measure{GPUSpec: GPUSpec{GPU: "none"}, Predict: &PredictConfig{Model: "microsoft/Phi-3-mini-4k-instruct", MaxModelLen: 4096, TotalMemoryGiB: 79.18}}
	if err := m2.Run(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	a, b := mustValue(t, env, "predicted_kv_tokens"), mustValue(t, ref, "predicted_kv_tokens")
	if a != b {
		t.Errorf("kv tokens from the device %v, from total_memory_gib %v", a, b)
	}
}

func TestMeasureGPUErrors(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	f.memErr = fmt.Errorf("driver on fire")
	if err := (&Measure{GPUSpec: gs}).Run(context.Background(), env); err == nil || err.Error() != "reading fake: driver on fire" {
		t.Errorf("memory error: %v", err)
	}
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "fake", Device: "nobody"}}).Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "gpu backend fake") {
		t.Errorf("open error: %v", err)
	}
}

func TestMeasureSettleHonoursContext(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := (&Measure{GPUSpec: GPUSpec{GPU: "none"}, Settle: spec.Duration(time.Hour)}).Run(ctx, env)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("settle: %v after %v", err, time.Since(start))
	}
}

// The host backend (CPU engines) records host_* names, the launched tree's
// RSS (and PSS), and no gpu_* name.
func TestMeasureHostBackend(t *testing.T) {
	env := newTestEnv(t)
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "host"}, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	mustValue(t, env, "host_mem_baseline_mb")
	launch(t, env, "server", freePort(t))
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "host"}}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, env, "host_backend"); v != "host" {
		t.Errorf("host_backend %v", v)
	}
	for _, k := range []string{"host_total_mb", "host_mem_used_mb", "host_mem_delta_mb"} {
		mustValue(t, env, k)
	}
	if rss := mustValue(t, env, "host_rss_mb").(float64); rss <= 0 || rss > 4096 {
		t.Errorf("host_rss_mb %v for the fake server", rss)
	}
	if n := mustValue(t, env, "host_procs"); n != 1 {
		t.Errorf("host_procs %v", n)
	}
	for _, k := range env.Values().Keys() {
		if strings.HasPrefix(k, "gpu_") {
			t.Errorf("host backend recorded %s", k)
		}
	}
	env.RunCleanups(context.Background())
	assertNoLeftovers(t, binDir)
}

// fakeSMIWithUnknownProcessMemory registers an nvidia-smi backend whose
// nvidia-smi is a fake: one H100 with 20 GiB used, and the launched server
// (pid from *pid) listed as a compute app whose used_memory nvidia-smi reports
// as [N/A] (what it prints in containers and for processes on MIG devices).
func fakeSMIWithUnknownProcessMemory(t *testing.T, pid *int) GPUSpec {
	t.Helper()
	const uuid = "GPU-5a8e3c4b-1f2d-7e6a-9b0c-3d4e5f6a7b8c"
	name := "unknownprocsmi" + strings.ToLower(strings.NewReplacer("/", "", "_", "").Replace(t.Name()))
	run := func(ctx context.Context, args ...string) ([]byte, error) {
		switch {
		case strings.HasPrefix(args[0], "--query-gpu="):
			return []byte("0, " + uuid + ", NVIDIA H100 80GB HBM3, 81559, 20480, 60528, 551, 50, 300.5, 1980, 550.54.15\n"), nil
		case strings.HasPrefix(args[0], "--query-compute-apps="):
			return []byte(strconv.Itoa(*pid) + ", " + uuid + ", [N/A]\n"), nil
		}
		return nil, fmt.Errorf("unexpected args %v", args)
	}
	open.Register(name, func(ctx context.Context, _ open.Options) (gpu.Backend, error) {
		return smi.New(ctx, smi.Options{Run: run})
	})
	return GPUSpec{GPU: GPUBackend(name)}
}

// When the backend cannot read a process's GPU memory (NVML's
// NVML_VALUE_NOT_AVAILABLE, nvidia-smi's "[N/A]": containers, MIG devices,
// insufficient permissions), measure does not record gpu_proc_mem_mb = 0 for
// a server tree that holds GPU memory: as the telemetry contract says of
// unreadable fields, an unknown reading is never silently zero.
func TestMeasureNeverRecordsUnknownProcessMemoryAsZero(t *testing.T) {
	pid := 0
	gs := fakeSMIWithUnknownProcessMemory(t, &pid)
	env := newTestEnv(t)
	s := launch(t, env, "server", freePort(t))
	pid = s.Proc.PID()
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	err := runWithTimeout(&Measure{GPUSpec: gs}, env, 10*time.Second)
	t.Logf("measure: err %v, values %v", err, env.Values().Keys())
	if n, ok := env.Value("gpu_procs"); !ok || n != 1 {
		t.Fatalf("gpu_procs %v %v: the fake did not list the server", n, ok)
	}
	if v, ok := env.Value("gpu_proc_mem_mb"); ok && v == 0.0 {
		t.Errorf("gpu_proc_mem_mb recorded as 0 although nvidia-smi reported the server's used_memory as [N/A] (unknown)")
	}
}

// A baseline is kept per backend and device selection. A point that takes
// two baselines, the GPU's (gpu_mem_baseline_mb) and the host's
// (host_mem_baseline_mb, e.g. to report a GPU engine's host memory too),
// computes gpu_mem_delta_mb against the GPU's baseline, whichever was taken
// last: here 5 GiB − 1 GiB = 4096 MiB.
func TestMeasureDeltaUsesTheBaselineOfItsOwnBackend(t *testing.T) {
	f, gs := newFakeGPU(t)
	env := newTestEnv(t)
	baselineOn(t, env, f, gs, gib)
	if err := (&Measure{GPUSpec: GPUSpec{GPU: "host"}, Baseline: true}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	hostBase := mustValue(t, env, "host_mem_baseline_mb")
	f.setUsed(5 * gib)
	if err := (&Measure{GPUSpec: gs}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if d := mustValue(t, env, "gpu_mem_delta_mb"); d != 4096.0 {
		t.Errorf("gpu_mem_delta_mb %v, want 4096 (5 GiB used − 1 GiB GPU baseline); the host baseline (%v MiB) was used instead", d, hostBase)
	}
}

func TestReadLogReadsOnlyTheLast8MiB(t *testing.T) {
	dir := t.TempDir()
	if _, err := readLog(filepath.Join(dir, "missing.log")); err == nil {
		t.Error("missing log read")
	}
	small := filepath.Join(dir, "small.log")
	os.WriteFile(small, []byte("hello\n"), 0o644)
	if s, err := readLog(small); err != nil || s != "hello\n" {
		t.Errorf("readLog = %q, %v", s, err)
	}
	// A log over 8 MiB: only its last 8 MiB are read.
	big := filepath.Join(dir, "big.log")
	f, _ := os.Create(big)
	f.WriteString("HEAD")
	f.Truncate(9 << 20)
	f.Seek(0, 2)
	f.WriteString("TAIL")
	f.Close()
	s, err := readLog(big)
	if err != nil || len(s) != 8<<20 || !strings.HasSuffix(s, "TAIL") || strings.HasPrefix(s, "HEAD") {
		t.Errorf("big log: len %d, err %v", len(s), err)
	}
}

// Recorded memory is in MiB, rounded half away from zero to one decimal
// (round1) or three (round3).
func TestMeasureRoundsMiBToOneOrThreeDecimals(t *testing.T) {
	for x, want := range map[float64]float64{1.25: 1.3, -1.25: -1.3, 2.04: 2} {
		if got := round1(x); got != want {
			t.Errorf("round1(%v) = %v", x, got)
		}
	}
	if got := round3(1.23456); got != 1.235 {
		t.Errorf("round3 = %v", got)
	}
	if got := mib(3 << 20); got != 3 {
		t.Errorf("mib = %v", got)
	}
}
