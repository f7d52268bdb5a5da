package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/modelcfg"
)

// The parser regexes of kv-cache-facts.md §1.2: the simulator's log must
// read like vLLM's.
var (
	reKVTokens    = regexp.MustCompile(`GPU KV cache size: ([\d,]+) tokens`)
	reConcurrency = regexp.MustCompile(`Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x`)
	reAvailable   = regexp.MustCompile(`Available KV cache memory: ([-\d.]+) GiB`)
	reWeights     = regexp.MustCompile(`Model loading took ([\d.]+) (GiB|GB)`)
	reGraphs      = regexp.MustCompile(`Graph capturing finished in (\d+) secs?, took ([\d.]+) GiB`)
	reGraphEst    = regexp.MustCompile(`Estimated CUDA graph memory: ([\d.]+) GiB`)
	reInitEngine  = regexp.MustCompile(`init engine \(profile, create kv cache, warmup model\) took ([\d.]+) (s|seconds)`)
	reLinePrefix  = regexp.MustCompile(`^\((APIServer|EngineCore_DP0) pid=\d+\) (INFO|WARNING|ERROR)(:     | \d\d-\d\d \d\d:\d\d:\d\d \[[\w.]+:\d+\] )`)
)

func match1(t *testing.T, re *regexp.Regexp, log string) []string {
	t.Helper()
	m := re.FindAllStringSubmatch(log, -1)
	if len(m) != 1 {
		t.Fatalf("log has %d matches of %s, want 1; log:\n%s", len(m), re, log)
	}
	return m[0]
}

func atoiCommas(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestStartupPrintsPrediction starts servers for several model/GPU/flag
// combinations and checks that the vLLM-format log, /v1/models, /metrics
// and the GPU state file all carry modelcfg.Predict's numbers.
func TestStartupPrintsPrediction(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		in   modelcfg.PredictInput // what the args mean; TotalMemoryBytes from the preset
		gpu  string
	}{ // the model is args[0], or args[1] after --model
		{"phi3-h100-512", []string{"microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "512"}, modelcfg.PredictInput{MaxModelLen: 512}, "H100-80GB"},
		{"phi3-h100-1024", []string{"microsoft/Phi-3-mini-4k-instruct", "--max-model-len=1024"}, modelcfg.PredictInput{MaxModelLen: 1024}, "H100-80GB"},
		{"phi3-h100-2048", []string{"Phi-3-mini-4k-instruct", "--max-model-len", "2048"}, modelcfg.PredictInput{MaxModelLen: 2048}, "H100-80GB"},
		{"phi3-h100-4096", []string{"--model", "microsoft/Phi-3-mini-4k-instruct"}, modelcfg.PredictInput{MaxModelLen: 4096}, "H100-80GB"},
		{"phi3-h100-eager", []string{"microsoft/Phi-3-mini-4k-instruct", "--enforce-eager"}, modelcfg.PredictInput{EnforceEager: true}, "H100-80GB"},
		{"qwen05-l4", []string{"Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "L4"}, modelcfg.PredictInput{}, "L4"},
		{"qwen15-a100-fp8kv", []string{"Qwen/Qwen2.5-1.5B-Instruct", "--gpu", "A100-40GB", "--kv-cache-dtype", "fp8", "--max-model-len", "16384", "--gpu-memory-utilization", "0.8"},
			modelcfg.PredictInput{KVCacheDType: "fp8", MaxModelLen: 16384, GPUMemoryUtilization: 0.8}, "A100-40GB"},
		{"llama8b-h200-seqs", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H200", "--max-model-len", "32768", "--max-num-seqs", "64", "--max-num-batched-tokens", "4096", "--block-size", "32"},
			modelcfg.PredictInput{MaxModelLen: 32768, MaxNumSeqs: 64, MaxNumBatchedTokens: 4096, BlockSize: 32}, "H200"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSim(t, tc.args...)
			g, err := simgpu.LookupGPU(tc.gpu)
			if err != nil {
				t.Fatal(err)
			}
			model := tc.args[0]
			if model == "--model" {
				model = tc.args[1]
			}
			cfg, err := modelcfg.Resolve(model)
			if err != nil {
				t.Fatal(err)
			}
			in := tc.in
			in.TotalMemoryBytes, in.GPUName = int64(g.MemoryBytes), g.Name
			p, err := modelcfg.Predict(cfg, in)
			if err != nil || !p.Fits {
				t.Fatalf("Predict: %v (fits %v)", err, p.Fits)
			}
			log := s.stdout.String()
			for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
				if !reLinePrefix.MatchString(line) {
					t.Errorf("line not in vLLM's format: %q", line)
				}
			}
			if !strings.Contains(log, "runexp simulator: simulated vLLM engine, GPU preset "+g.Name) {
				t.Errorf("log does not say it is a simulator")
			}

			if got := atoiCommas(t, match1(t, reKVTokens, log)[1]); got != p.KVTokens {
				t.Errorf("GPU KV cache size %d, predicted %d", got, p.KVTokens)
			}
			m := match1(t, reConcurrency, log)
			if got := atoiCommas(t, m[1]); got != int64(p.MaxModelLen) {
				t.Errorf("concurrency line for L=%d, want %d", got, p.MaxModelLen)
			}
			if want := fmt.Sprintf("%.2f", p.EngineConcurrency); m[2] != want {
				t.Errorf("concurrency %sx, predicted %sx", m[2], want)
			}
			if want := fmt.Sprintf("%.2f", float64(p.KVPoolBytes)/(1<<30)); match1(t, reAvailable, log)[1] != want {
				t.Errorf("available KV %s GiB, predicted %s", match1(t, reAvailable, log)[1], want)
			}
			if want := fmt.Sprintf("%.4f", float64(p.WeightsBytes)/(1<<30)); match1(t, reWeights, log)[1] != want {
				t.Errorf("weights %s GiB, predicted %s", match1(t, reWeights, log)[1], want)
			}
			match1(t, reInitEngine, log)
			if in.EnforceEager {
				if reGraphs.MatchString(log) || reGraphEst.MatchString(log) {
					t.Error("graph lines with --enforce-eager")
				}
			} else {
				if want := fmt.Sprintf("%.2f", float64(p.CUDAGraphBytes)/(1<<30)); match1(t, reGraphs, log)[2] != want || match1(t, reGraphEst, log)[1] != want {
					t.Errorf("graph memory lines do not show %s GiB", want)
				}
			}

			var models struct {
				Data []struct {
					ID          string `json:"id"`
					MaxModelLen int    `json:"max_model_len"`
					OwnedBy     string `json:"owned_by"`
				} `json:"data"`
			}
			getJSON(t, s.url+"/v1/models", &models)
			if len(models.Data) != 1 || models.Data[0].MaxModelLen != p.MaxModelLen || models.Data[0].OwnedBy != "vllm" {
				t.Errorf("/v1/models = %+v, want max_model_len %d", models, p.MaxModelLen)
			}
			fams := scrape(t, s.url)
			labels := labelMap(fams["vllm:cache_config_info"].GetMetric()[0])
			if labels["num_gpu_blocks"] != strconv.FormatInt(p.NumBlocks, 10) || labels["block_size"] != strconv.Itoa(p.BlockSize) ||
				labels["kv_cache_size_tokens"] != strconv.FormatInt(p.KVTokens, 10) {
				t.Errorf("cache_config_info labels %v, predicted %d blocks of %d", labels, p.NumBlocks, p.BlockSize)
			}

			st := readState(t, s.stateDir)
			want := modelcfg.CUDAContextBytes + p.WeightsBytes + p.ActivationPeakBytes + p.NonTorchBytes + p.CUDAGraphBytes + p.NumBlocks*p.BlockBytes
			if st.UsedBytes != uint64(want) || st.Phase != "ready" || st.GPU != g.Name || st.GPUUUID != "GPU-sim-"+strings.ToLower(g.Name) || st.TotalBytes != g.MemoryBytes {
				t.Errorf("state file %+v, want used %d of %d", st, want, g.MemoryBytes)
			}
			// Within one block of what nvidia-smi would show for real vLLM.
			if d := int64(st.UsedBytes) - p.ExpectedUsedBytes; d > p.BlockBytes || d < -p.BlockBytes {
				t.Errorf("used %d vs modelcfg ExpectedUsedBytes %d", st.UsedBytes, p.ExpectedUsedBytes)
			}
			if code := s.stop(t); code != 0 {
				t.Errorf("exit code %d after shutdown", code)
			}
			if _, err := os.Stat(filepath.Join(s.stateDir, strconv.Itoa(os.Getpid())+".json")); !os.IsNotExist(err) {
				t.Errorf("state file left after a clean exit: %v", err)
			}
		})
	}
}

// readState returns the only server state in dir.
func readState(t *testing.T, dir string) simgpu.ServerState {
	t.Helper()
	sts, err := simgpu.ReadServerStates(dir, false)
	if err != nil || len(sts) != 1 {
		t.Fatalf("simgpu.ReadServerStates(%s) = %+v, %v; want one", dir, sts, err)
	}
	return sts[0]
}

func TestPhi3PoolIsFlatAcrossMaxModelLen(t *testing.T) {
	t.Parallel()
	var tokens int64
	var conc4096 float64
	for _, l := range []string{"512", "1024", "2048", "4096"} {
		st := setupFor(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", l)
		if tokens != 0 && st.pred.KVTokens != tokens {
			t.Errorf("pool %d tokens at L=%s, %d before", st.pred.KVTokens, l, tokens)
		}
		tokens, conc4096 = st.pred.KVTokens, st.pred.EngineConcurrency
		t.Logf("Phi-3-mini H100-80GB 0.92 L=%s: %s tokens, %.2fx (tokens/L %.2fx)", l, commas(tokens), st.pred.EngineConcurrency, st.pred.MaxConcurrency)
	}
	// kv-cache-facts.md §4.1 estimates ~165–175k tokens with the pre-v0.17
	// sampler peak; v0.17's smaller one adds about a thousand.
	if tokens < 165000 || tokens > 177000 {
		t.Errorf("Phi-3-mini pool %d tokens, outside the 165k–177k estimate", tokens)
	}
	if conc4096 < 40 || conc4096 > 44 {
		t.Errorf("Phi-3-mini concurrency at 4096: %.2fx, estimate ~41x", conc4096)
	}
}

func TestStartupFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		args   []string
		stderr string // prefix of the exception line
		log    []string
	}{
		{"does-not-fit", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "RTX-4090"},
			"ValueError: To serve at least one request with the model's max seq len (131072), (16.00 GiB KV cache is needed, which is larger than the available KV cache memory (",
			[]string{"Available KV cache memory: ", "EngineCore failed to start.", "Based on the available memory, the estimated maximum model length is ", "RuntimeError: Engine core initialization failed. See root cause above."}},
		{"no-cache-memory", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "T4", "--dtype", "half", "--max-model-len", "1024"},
			"ValueError: No available memory for the cache blocks.", []string{"Available KV cache memory: -"}},
		{"max-len-above-config", []string{"microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "8192"},
			"pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n  Value error, User-specified max_model_len (8192) is greater than the derived max_model_len (max_position_embeddings=4096",
			nil},
		{"bf16-on-t4", []string{"Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "T4", "--dtype", "bfloat16"},
			"ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0.", nil},
		{"batched-below-seqs", []string{"Qwen/Qwen2.5-0.5B-Instruct", "--max-num-batched-tokens", "128"},
			"ValueError: max_num_batched_tokens (128) must be greater than or equal to max_num_seqs (1024).", nil},
		{"unknown-model", []string{"no/such-model"}, "ValueError: modelcfg: unknown model \"no/such-model\"", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ready := runSim(t, tc.args...)
			if ready {
				t.Fatalf("server started; log:\n%s", s.stdout)
			}
			if code := s.wait(t); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.HasPrefix(s.stderr.String(), tc.stderr) {
				t.Errorf("stderr:\n%s\nwant prefix:\n%s", s.stderr, tc.stderr)
			}
			for _, want := range tc.log {
				if !strings.Contains(s.stdout.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, s.stdout)
				}
			}
			if sts, _ := simgpu.ReadServerStates(s.stateDir, false); len(sts) != 0 {
				t.Errorf("state file left after a failed start: %+v", sts)
			}
		})
	}
}

// Not parallel: sets an environment variable.
func TestAllowLongMaxModelLen(t *testing.T) {
	t.Setenv("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1")
	s := startSim(t, "microsoft/Phi-3-mini-4k-instruct", "--max-model-len", "8192")
	if !strings.Contains(s.stdout.String(), "WARNING") || !strings.Contains(s.stdout.String(), "Maximum concurrency for 8,192 tokens per request") {
		t.Errorf("log:\n%s", s.stdout)
	}
}

func TestT4FallsBackToFloat16(t *testing.T) {
	t.Parallel()
	s := startSim(t, "Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "t4", "--max-model-len", "4096")
	log := s.stdout.String()
	if !strings.Contains(log, "doesn't support torch.bfloat16. Falling back to torch.float16") || !strings.Contains(log, "dtype=torch.float16") {
		t.Errorf("log:\n%s", log)
	}
}

func TestFreeMemoryCheck(t *testing.T) {
	t.Parallel()
	// Another live server (our parent process's pid) holds 40 GiB of the
	// simulated H100.
	dir := t.TempDir()
	g, _ := simgpu.LookupGPU("H100-80GB")
	other, _ := json.Marshal(simgpu.ServerState{PID: os.Getppid(), GPU: g.Name, GPUUUID: g.UUID(), TotalBytes: g.MemoryBytes, UsedBytes: 40 << 30})
	if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getppid())+".json"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	s, ready := runSimIn(t, dir, "microsoft/Phi-3-mini-4k-instruct")
	if ready {
		t.Fatal("started although the GPU is half used")
	}
	total := float64(g.MemoryBytes) / (1 << 30)
	want := fmt.Sprintf("ValueError: Free memory on device (%.2f/%.2f GiB) on startup is less than desired GPU memory utilization (0.92, %.2f GiB).", total-40, total, total*0.92)
	if !strings.HasPrefix(s.stderr.String(), want) {
		t.Errorf("stderr: %s", s.stderr)
	}
	// At 0.45 it fits next to the other server, and both are visible.
	startSimIn(t, dir, "microsoft/Phi-3-mini-4k-instruct", "--gpu-memory-utilization", "0.45")
	if sts, _ := simgpu.ReadServerStates(dir, false); len(sts) != 2 {
		t.Errorf("want 2 live servers, got %+v", sts)
	}
}

func TestModelConfigFile(t *testing.T) {
	t.Parallel()
	// A Mistral-7B-v0.1-shaped config.json (sliding window 4096).
	dir := t.TempDir()
	cfgJSON := `{"architectures":["MistralForCausalLM"],"model_type":"mistral","hidden_size":4096,"intermediate_size":14336,
"num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"max_position_embeddings":32768,
"sliding_window":4096,"torch_dtype":"bfloat16","vocab_size":32000,"tie_word_embeddings":false}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSim(t, "my-org/my-mistral", "--model-config", dir, "--gpu", "A100-80GB", "--max-model-len", "16384")
	cfg, err := modelcfg.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := simgpu.LookupGPU("A100-80GB")
	p, _ := modelcfg.Predict(cfg, modelcfg.PredictInput{TotalMemoryBytes: int64(g.MemoryBytes), GPUName: g.Name, MaxModelLen: 16384})
	log := s.stdout.String()
	if got := atoiCommas(t, match1(t, reKVTokens, log)[1]); got != p.KVTokens || p.SlidingWindow != 4096 {
		t.Errorf("KV tokens %d, predicted %d (window %d)", got, p.KVTokens, p.SlidingWindow)
	}
	var models struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	getJSON(t, s.url+"/v1/models", &models)
	if models.Data[0].ID != "my-org/my-mistral" {
		t.Errorf("served name %q", models.Data[0].ID)
	}
}
