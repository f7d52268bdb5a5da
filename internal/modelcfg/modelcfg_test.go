package modelcfg

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// h100 is an H100-80GB's CUDA-visible total as vLLM logs it.
const h100 = 7918 * GiB / 100

func mustPreset(t *testing.T, name string) Config {
	t.Helper()
	c, ok := Preset(name)
	if !ok {
		t.Fatalf("preset %q missing", name)
	}
	return c
}

func TestLoadMatchesPresets(t *testing.T) {
	for file, preset := range map[string]string{
		"phi3-mini-4k-config.json":          "microsoft/Phi-3-mini-4k-instruct",
		"qwen2.5-0.5b-instruct-config.json": "Qwen2.5-0.5B-Instruct",
		"llama-3.1-8b-instruct-config.json": "meta-llama/llama-3.1-8b-instruct",
		"deepseek-v2-lite-config.json":      "DeepSeek-V2-Lite",
	} {
		got, err := Load(filepath.Join("testdata", file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		want := mustPreset(t, preset)
		got.Name, want.Name = "", ""
		if got != want {
			t.Errorf("%s:\n got  %+v\n want %+v", file, got, want)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"num_hidden_layers":2,"num_attention_heads":8,"hidden_size":512}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NumKeyValueHeads != 8 || c.HeadDim != 64 || c.SlidingWindow != 0 || c.AttentionBias {
		t.Errorf("defaults: %+v", c)
	}
	q3, err := Load("testdata/qwen3-explicit-head-dim-config.json")
	if err != nil {
		t.Fatal(err)
	}
	if q3.HeadDim != 128 || q3.TorchDType != "bfloat16" {
		t.Errorf("explicit head_dim / dtype key: %+v", q3)
	}
	// 2 × 28 layers × 8 kv heads × 128 (explicit, not 1024/16=64) × 2 B
	if got := KVBytesPerToken(q3, "auto"); got != 114688 {
		t.Errorf("qwen3 KV/token = %d, want 114688", got)
	}
	mm, err := Load("testdata/multimodal-text-config.json")
	if err != nil {
		t.Fatal(err)
	}
	if mm.NumHiddenLayers != 32 || mm.NumKeyValueHeads != 8 || mm.TorchDType != "bfloat16" {
		t.Errorf("text_config: %+v", mm)
	}
	if _, err := Load("testdata/missing-fields-config.json"); err == nil ||
		!strings.Contains(err.Error(), "num_hidden_layers") {
		t.Errorf("missing fields: err = %v", err)
	}
	if _, err := Parse([]byte(`{`)); err == nil {
		t.Error("bad JSON accepted")
	}
	if _, err := Load("testdata"); err == nil { // directory without config.json
		t.Error("directory without config.json accepted")
	}
}

func TestResolve(t *testing.T) {
	c, err := Resolve("PHI-3-MINI-4K-INSTRUCT")
	if err != nil || c.Name != "microsoft/Phi-3-mini-4k-instruct" {
		t.Fatalf("Resolve preset: %+v %v", c, err)
	}
	c, err = Resolve("testdata/qwen2.5-0.5b-instruct-config.json")
	if err != nil || c.NumHiddenLayers != 24 {
		t.Fatalf("Resolve path: %+v %v", c, err)
	}
	if _, err := Resolve("no-such-model"); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("Resolve unknown: %v", err)
	}
	if len(PresetNames()) != 5 {
		t.Errorf("PresetNames = %v", PresetNames())
	}
}

// Worked numbers of kv-cache-facts.md §4.1.
func TestWorkedNumbers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		params        int64
		weights       int64
		kvAuto, kvFP8 int64
	}{
		{"Phi-3-mini-4k-instruct", 3821079552, 7642159104, 393216, 196608},
		{"Qwen2.5-0.5B-Instruct", 494032768, 988065536, 12288, 6144},
		{"Qwen2.5-1.5B-Instruct", 1543714304, 3087428608, 28672, 14336},
		// HF count; llama.cpp's 8,030,261,312 includes the 64-entry rope_freqs tensor.
		{"Llama-3.1-8B-Instruct", 8030261248, 16060522496, 131072, 65536},
		{"DeepSeek-V2-Lite", 15706484224, 31412968448, 31104, 15552},
	} {
		c := mustPreset(t, tc.name)
		if got := ParamCount(c); got != tc.params {
			t.Errorf("%s params = %d, want %d", tc.name, got, tc.params)
		}
		if got := WeightBytes(c, "auto"); got != tc.weights {
			t.Errorf("%s weights = %d, want %d", tc.name, got, tc.weights)
		}
		if got := KVBytesPerToken(c, "auto"); got != tc.kvAuto {
			t.Errorf("%s KV/token auto = %d, want %d", tc.name, got, tc.kvAuto)
		}
		for _, d := range []string{"fp8", "fp8_e4m3", "FP8_E5M2"} {
			if got := KVBytesPerToken(c, d); got != tc.kvFP8 {
				t.Errorf("%s KV/token %s = %d, want %d", tc.name, d, got, tc.kvFP8)
			}
		}
	}
	phi := mustPreset(t, "Phi-3-mini-4k-instruct")
	if got := KVBytesPerToken(phi, "float32"); got != 786432 {
		t.Errorf("fp32 KV = %d", got)
	}
	if got := KVBytesPerToken(phi, "nonsense"); got != 0 {
		t.Errorf("unknown dtype KV = %d, want 0", got)
	}
	if got := WeightBytes(phi, "float16"); got != 7642159104 {
		t.Errorf("fp16 weights = %d", got)
	}
	// DeepSeek-V3 scale (facts table): 61 × 576 × 2 = 70,272 B; fp8_ds_mla 61 × 656.
	v3 := Config{NumHiddenLayers: 61, NumAttentionHeads: 128, HiddenSize: 7168, KVLoraRank: 512, QKRopeHeadDim: 64, TorchDType: "bfloat16"}
	for d, want := range map[string]int64{"auto": 70272, "fp8": 35136, "fp8_ds_mla": 40016} {
		if got := KVBytesPerToken(v3, d); got != want {
			t.Errorf("V3 %s = %d, want %d", d, got, want)
		}
	}
	if got := KVBytesPerToken(phi, "fp8_ds_mla"); got != 0 {
		t.Errorf("fp8_ds_mla on non-MLA = %d, want 0", got)
	}
	// Phi-3 per-request KV at L (facts table): 192 MiB at 512 … 1.5 GiB at 4096; 6 MiB per block.
	if KVBytesPerToken(phi, "auto")*512 != 192<<20 || KVBytesPerToken(phi, "auto")*4096 != 1536<<20 ||
		KVBytesPerToken(phi, "auto")*16 != 6<<20 {
		t.Error("Phi-3 per-request KV table mismatch")
	}
}

func TestModelDType(t *testing.T) {
	for in, want := range map[string]string{"": "bfloat16", "auto": "bfloat16", "half": "float16", "torch.float32": "float32", "fp8": "fp8"} {
		got, err := ModelDType(Config{TorchDType: "bfloat16"}, in)
		if err != nil || got != want {
			t.Errorf("ModelDType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, _ := ModelDType(Config{TorchDType: "float32"}, "auto"); got != "bfloat16" {
		t.Errorf("float32 checkpoint auto = %q, want bfloat16", got)
	}
	if got, _ := ModelDType(Config{TorchDType: "float16"}, "auto"); got != "float16" {
		t.Errorf("float16 checkpoint auto = %q", got)
	}
	if _, err := ModelDType(Config{}, "int3"); err == nil {
		t.Error("unknown dtype accepted")
	}
}

// Phi-3-mini on an H100-80GB at 0.92 must land in the facts file's ~165–175k
// token estimate (§0, §4.1); the pool does not depend on max_model_len.
// With --dtype float32 and --kv-cache-dtype auto the KV cache takes the
// model dtype, float32, at 4 bytes per element (vLLM
// get_kv_cache_torch_dtype: "auto" → model_config.dtype). ModelDType's
// float32 → bfloat16 rule is for a float32 checkpoint under --dtype auto
// only and does not halve the KV cache.
func TestPredictFloat32DTypeKeepsFloat32KVCache(t *testing.T) {
	llama := mustPreset(t, "meta-llama/Llama-3.1-8B-Instruct")
	p, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, DType: "float32"})
	if err != nil {
		t.Fatal(err)
	}
	// 2 (K,V) × 32 layers × 8 kv heads × 128 head_dim × 4 bytes.
	const want = 2 * 32 * 8 * 128 * 4
	if p.DType != "float32" {
		t.Fatalf("resolved dtype %q, want float32", p.DType)
	}
	if p.KVBytesPerToken != want {
		t.Errorf("--dtype float32, --kv-cache-dtype auto: KVBytesPerToken = %d, want %d (auto KV cache = model dtype float32, 4 B/elem)", p.KVBytesPerToken, want)
	}
}

func TestPredictPhi3H100(t *testing.T) {
	phi := mustPreset(t, "Phi-3-mini-4k-instruct")
	var tokens int64
	for _, tc := range []struct {
		l          int
		minC, maxC float64
	}{{512, 320, 345}, {1024, 160, 172}, {2048, 80, 86}, {4096, 40, 43}} {
		p, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: tc.l})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Fits || p.Err() != nil || p.Failure != "" {
			t.Fatalf("L=%d does not fit: %s", tc.l, p.Failure)
		}
		// kv-cache-facts.md estimates 165–175k with the sampler peak of
		// v0.16 and before; v0.17's smaller one adds about a thousand.
		if p.KVTokens < 165000 || p.KVTokens > 177000 {
			t.Errorf("L=%d KV tokens = %d, want 165k–177k (%s)", tc.l, p.KVTokens, p.Formula)
		}
		if tokens != 0 && p.KVTokens != tokens {
			t.Errorf("pool changed with L: %d vs %d", p.KVTokens, tokens)
		}
		tokens = p.KVTokens
		if p.MaxConcurrency < tc.minC || p.MaxConcurrency > tc.maxC {
			t.Errorf("L=%d concurrency %.2f outside [%v, %v]", tc.l, p.MaxConcurrency, tc.minC, tc.maxC)
		}
		// Sliding window 2047: one extra block per request, so the engine's
		// figure is a little lower (facts §1.6).
		if want := round2(float64(p.NumBlocks) / float64(tc.l/16+1)); p.EngineConcurrency != want || p.EngineConcurrency >= p.MaxConcurrency {
			t.Errorf("L=%d engine concurrency %.2f, want %.2f (< %.2f)", tc.l, p.EngineConcurrency, want, p.MaxConcurrency)
		}
		if p.KVTokens != p.NumBlocks*16 || p.KVTokens%16 != 0 {
			t.Errorf("tokens %d not blocks×16", p.KVTokens)
		}
		if p.MaxNumBatchedTokens != 8192 || p.MaxNumSeqs != 1024 || p.BlockSize != 16 || p.GPUMemoryUtilization != 0.92 {
			t.Errorf("defaults: %+v", p)
		}
		if p.WeightsBytes != 7642159104 || !p.CUDAGraphInBudget || p.CUDAGraphBytes != CUDAGraphBytes(phi) {
			t.Errorf("terms: %+v", p)
		}
		if sum := p.WeightsBytes + p.ActivationPeakBytes + p.NonTorchBytes + p.CUDAGraphBytes; sum != p.NonKVBytes ||
			p.RequestedBytes-sum != p.KVPoolBytes {
			t.Errorf("budget arithmetic: %+v", p)
		}
		if !strings.Contains(p.Formula, "79.18 GiB × 0.92") {
			t.Errorf("formula: %s", p.Formula)
		}
	}
}

func TestPredictVariants(t *testing.T) {
	phi := mustPreset(t, "Phi-3-mini-4k-instruct")
	base, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096})

	eager, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, EnforceEager: true})
	if eager.CUDAGraphBytes != 0 || eager.KVPoolBytes != base.KVPoolBytes+base.CUDAGraphBytes {
		t.Errorf("eager pool %d, base %d + graphs %d", eager.KVPoolBytes, base.KVPoolBytes, base.CUDAGraphBytes)
	}
	legacy, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, NoCUDAGraphEstimate: true})
	if legacy.KVPoolBytes != eager.KVPoolBytes || legacy.CUDAGraphInBudget ||
		legacy.ExpectedUsedBytes != legacy.RequestedBytes+CUDAContextBytes+legacy.CUDAGraphBytes {
		t.Errorf("pre-v0.21: %+v", legacy)
	}
	fp8, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, KVCacheDType: "fp8"})
	if fp8.KVBytesPerToken != 196608 || fp8.NumBlocks < 2*base.NumBlocks || fp8.NumBlocks > 2*base.NumBlocks+1 {
		t.Errorf("fp8 blocks %d vs %d", fp8.NumBlocks, base.NumBlocks)
	}
	noSWA, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, DisableSlidingWindow: true})
	if noSWA.EngineConcurrency != noSWA.MaxConcurrency || noSWA.BlocksPerRequest != 256 {
		t.Errorf("no SWA: %+v", noSWA)
	}
	fixed, _ := Predict(phi, PredictInput{MaxModelLen: 4096, KVCacheMemoryBytes: 6 * GiB})
	if fixed.KVTokens != 16384 || !fixed.Fits {
		t.Errorf("kv_cache_memory_bytes 6 GiB: %d tokens", fixed.KVTokens)
	}
	over, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, NumGPUBlocksOverride: 100})
	// vLLM checks the fit against the profiled pool, then applies the
	// override: 100 blocks (less than one 4096-token request) still start.
	if over.KVTokens != 1600 || !over.Fits || over.ExpectedUsedBytes != over.NonKVBytes+100*over.BlockBytes+CUDAContextBytes {
		t.Errorf("override 100 blocks: %+v", over)
	}
	a100, _ := Predict(phi, PredictInput{TotalMemoryBytes: 7915 * GiB / 100, GPUName: "NVIDIA A100-SXM4-80GB", MaxModelLen: 4096})
	if a100.MaxNumBatchedTokens != 2048 || a100.MaxNumSeqs != 256 {
		t.Errorf("A100 defaults %d/%d", a100.MaxNumBatchedTokens, a100.MaxNumSeqs)
	}
	small, _ := Predict(phi, PredictInput{TotalMemoryBytes: 2360 * GiB / 100, MaxModelLen: 4096})
	if small.MaxNumBatchedTokens != 2048 || small.KVTokens < 30000 || small.KVTokens > 40000 {
		t.Errorf("24 GB card: %d tokens (facts: ~35–38k)", small.KVTokens)
	}
	mla, _ := Predict(mustPreset(t, "DeepSeek-V2-Lite"), PredictInput{TotalMemoryBytes: 139 * GiB, MaxModelLen: 8192})
	if mla.BlockSize != 64 || mla.KVBytesPerToken != 31104 || !mla.Fits {
		t.Errorf("MLA: %+v", mla)
	}
}

// Public H100 logs (llm-d-benchmark config_explorer/empirical-vllm-memory-results.md,
// vLLM ~v0.11, util 0.9, 79.18 GiB, graphs outside the budget):
// "Available KV cache memory" 51.38 GiB for Llama-3.1-8B and 64.45 GiB for Qwen3-0.6B.
func TestPredictMatchesH100Logs(t *testing.T) {
	q3, err := Load("testdata/qwen3-explicit-head-dim-config.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg           Config
		kvGiB, actGiB float64
		weightsGiB    float64
	}{
		{mustPreset(t, "Llama-3.1-8B-Instruct"), 51.38, 4.76, 14.99},
		{q3, 64.45, 5.56, 1.12},
	} {
		p, err := Predict(tc.cfg, PredictInput{TotalMemoryBytes: h100, GPUMemoryUtilization: 0.9,
			MaxModelLen: 16000, VLLMVersion: "0.11"})
		if err != nil {
			t.Fatal(err)
		}
		near := func(what string, got int64, want float64) {
			if g := float64(got) / float64(GiB); g < want-0.1 || g > want+0.1 {
				t.Errorf("%s %s = %.2f GiB, logged %.2f", tc.cfg.ModelType, what, g, want)
			}
		}
		near("kv pool", p.KVPoolBytes, tc.kvGiB)
		near("activation", p.ActivationPeakBytes, tc.actGiB)
		near("weights", p.WeightsBytes, tc.weightsGiB)
		near("requested", p.RequestedBytes, 71.26)
	}
}

func TestPredictDoesNotFit(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	// 24 GB card at 0.92: ~21.7 GiB requested − 14.96 GiB weights → a few GiB;
	// 131072 × 128 KiB = 16 GiB does not fit.
	p, err := Predict(llama, PredictInput{TotalMemoryBytes: 2360 * GiB / 100})
	if err != nil {
		t.Fatal(err)
	}
	if p.Fits || !errors.Is(p.Err(), ErrDoesNotFit) {
		t.Fatalf("expected not to fit: %+v", p)
	}
	var dnf *DoesNotFitError
	if !errors.As(p.Err(), &dnf) || dnf.NeededBytes != 16*GiB || dnf.MaxModelLen != 131072 {
		t.Fatalf("DoesNotFitError: %+v", dnf)
	}
	if p.EstimatedMaxModelLen <= 0 || p.EstimatedMaxModelLen%16 != 0 ||
		int64(p.EstimatedMaxModelLen)*p.KVBytesPerToken > p.KVPoolBytes ||
		int64(p.EstimatedMaxModelLen+16)*p.KVBytesPerToken <= p.KVPoolBytes {
		t.Errorf("estimated max len %d for pool %d", p.EstimatedMaxModelLen, p.KVPoolBytes)
	}
	want := "To serve at least one request with the model's max seq len (131072), (16.00 GiB KV cache is needed, which is larger than the available KV cache memory ("
	if !strings.HasPrefix(p.Failure, want) || !strings.Contains(p.Failure, "the estimated maximum model length is ") ||
		!strings.HasSuffix(p.Failure, "when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.") {
		t.Errorf("failure text: %s", p.Failure)
	}
	if got := DoesNotFitMessage(4096, 3*GiB/2, GiB, 0); strings.Contains(got, "Based on") ||
		!strings.Contains(got, "(1.50 GiB KV cache is needed") || !strings.Contains(got, "memory (1.00 GiB).") {
		t.Errorf("message without estimate: %s", got)
	}

	none, _ := Predict(llama, PredictInput{TotalMemoryBytes: 16 * GiB, MaxModelLen: 4096})
	if none.Fits || !errors.Is(none.Err(), ErrNoCacheMemory) || none.KVPoolBytes >= 0 || none.NumBlocks != 0 {
		t.Errorf("no memory: %+v", none)
	}
	if !strings.HasPrefix(none.Failure, "No available memory for the cache blocks.") {
		t.Errorf("no-memory text: %s", none.Failure)
	}
}

// A positive KV pool smaller than one request needs, even smaller than one
// block, is vLLM's "To serve at least one request with the model's max seq
// len" error (ErrDoesNotFit); "No available memory for the cache blocks"
// (ErrNoCacheMemory) is only for a pool <= 0
// (_check_enough_kv_cache_memory, kv-cache-facts.md §1.3).
func TestPredictSubBlockPoolDoesNotFit(t *testing.T) {
	phi := mustPreset(t, "microsoft/Phi-3-mini-4k-instruct")
	base, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, KVCacheMemoryBytes: base.BlockBytes / 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Fits {
		t.Fatal("half a block fits a 4096-token request?")
	}
	if !errors.Is(p.Err(), ErrDoesNotFit) {
		t.Errorf("pool of %d bytes (> 0, < one block): error %q; vLLM raises the \"To serve at least one request\" ValueError (No available memory only for a pool <= 0)", p.KVPoolBytes, p.Failure)
	}
}

func TestPredictInputErrors(t *testing.T) {
	phi := mustPreset(t, "Phi-3-mini-4k-instruct")
	_, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192})
	if !errors.Is(err, ErrMaxModelLenTooLarge) || !strings.Contains(err.Error(), "max_model_len (8192)") ||
		!strings.Contains(err.Error(), "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1") {
		t.Errorf("max_position_embeddings check: %v", err)
	}
	if _, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192, AllowLongMaxModelLen: true}); err != nil {
		t.Errorf("allow long: %v", err)
	}
	if p, err := Predict(phi, PredictInput{TotalMemoryBytes: h100}); err != nil || p.MaxModelLen != 4096 {
		t.Errorf("default max_model_len: %d %v", p.MaxModelLen, err)
	}
	for _, in := range []PredictInput{
		{},
		{TotalMemoryBytes: h100, GPUMemoryUtilization: 1.5},
		{TotalMemoryBytes: h100, DType: "int3"},
		{TotalMemoryBytes: h100, KVCacheDType: "int3"},
	} {
		if _, err := Predict(phi, in); err == nil {
			t.Errorf("accepted %+v", in)
		}
	}
	if _, err := Predict(Config{}, PredictInput{TotalMemoryBytes: h100}); err == nil {
		t.Error("empty config accepted")
	}
}
