package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/modelcfg"
)

const capacityAbout = `Plans vLLM's KV-cache capacity without a GPU: one row per --max-model-len ×
--gpu-memory-utilization combination. MODEL is a preset (%s),
a config.json path, a Hugging Face cache folder (models--org--name) or an
org/name found in the local Hugging Face cache. No network.`

// capacityRow is one combination's plan; byte fields are GiB per GPU.
type capacityRow struct {
	GPU                  string  `json:"gpu"`
	TensorParallelSize   int     `json:"tensor_parallel_size"`
	GPUMemoryUtilization float64 `json:"gpu_memory_utilization"`
	MaxModelLen          int     `json:"max_model_len"`
	WeightsGiB           float64 `json:"weights_gib"`
	ActivationGiB        float64 `json:"activation_peak_gib"`
	NonTorchGiB          float64 `json:"non_torch_gib"`
	CUDAGraphGiB         float64 `json:"cuda_graph_gib"`
	KVPoolGiB            float64 `json:"kv_pool_gib"`
	KVTokens             int64   `json:"kv_tokens"`
	MaxConcurrency       float64 `json:"max_concurrency"`
	Fits                 bool    `json:"fits"`
	EstimatedMaxModelLen int     `json:"estimated_max_model_len"`
	Failure              string  `json:"failure,omitempty"`
}

// cmdCapacity is `runexp capacity`: modelcfg.Predict over a grid of lengths
// and utilisations. Configurations vLLM would refuse are rows with fits
// false and vLLM's message, not errors.
func cmdCapacity(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("capacity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setHelp(fs, "runexp capacity MODEL --gpu G [flags]", fmt.Sprintf(capacityAbout, strings.Join(modelcfg.PresetNames(), ", ")), func(w io.Writer) {
		fmt.Fprintln(w, "\nEngine profiles (--vllm-version picks the newest profile at or below it):")
		for _, p := range modelcfg.EngineProfiles() {
			fmt.Fprintf(w, "  %-6s %s\n", p.Name, p.Changed)
		}
	})
	gpuName := fs.String("gpu", simgpu.DefaultGPU, "GPU preset ("+strings.Join(simgpu.GPUNames(), ", ")+"), a name from --gpu-file, or custom:<GiB>")
	gpuFile := fs.String("gpu-file", "", `JSON file of your own GPUs: [{"name": "A40", "memory_gib": 44.35}] (CUDA-visible GiB)`)
	memGiB := fs.Float64("gpu-memory-gib", 0, "CUDA-visible memory per GPU in GiB (instead of a preset)")
	lens := fs.String("max-model-len", "", "comma-separated --max-model-len values (default: the model's max_position_embeddings)")
	utils := fs.String("gpu-memory-utilization", "", "comma-separated utilisations (default: the engine version's)")
	tp := fs.Int("tensor-parallel-size", 1, "tensor-parallel GPUs")
	fs.IntVar(tp, "tp", 1, "short for --tensor-parallel-size")
	quant := fs.String("quantization", "", "awq, gptq, fp8, bitsandbytes or mxfp4 (default: the config's quantization_config)")
	kvDType := fs.String("kv-cache-dtype", "auto", "auto or fp8 (fp8_e4m3, fp8_e5m2)")
	dtype := fs.String("dtype", "auto", "model dtype")
	version := fs.String("vllm-version", "", "vLLM release whose memory accounting to model (default: the newest profile)")
	maxSeqs := fs.Int("max-num-seqs", 0, "--max-num-seqs (default: vLLM's for the GPU)")
	maxTokens := fs.Int("max-num-batched-tokens", 0, "--max-num-batched-tokens (default: vLLM's for the GPU)")
	eager := fs.Bool("enforce-eager", false, "no CUDA graphs")
	flashInfer := fs.Bool("flashinfer-sampler", false, `vLLM samples with FlashInfer (its log says "Using FlashInfer for top-p & top-k sampling"): a smaller sampler peak`)
	noCustomAR := fs.Bool("disable-custom-all-reduce", false, "vLLM's --disable-custom-all-reduce (it is on by default at TP > 1 on the NVLink presets: "+strings.Join(nvlinkPresets, ", ")+"); engines before v0.11 charge its buffers to the pool")
	format := fs.String("format", "table", "table, csv or json")
	positional, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return exitcode.Reported(exitcode.UsageError(err))
	}
	usageErr := func(format string, a ...any) error {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "runexp capacity: %v\n", err)
		return exitcode.Reported(exitcode.UsageError(err))
	}
	if len(positional) != 1 {
		fs.Usage()
		return usageErr("want exactly one MODEL, got %d", len(positional))
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return usageErr("--format %q: want table, csv or json", *format)
	}
	cfg, err := modelcfg.Resolve(positional[0])
	if err != nil {
		return usageErr("%v", err)
	}
	gpu, totalBytes, err := capacityGPU(*gpuName, *memGiB, *gpuFile)
	if err != nil {
		return usageErr("%v", err)
	}
	maxLens, err := parseList(*lens, strconv.Atoi)
	if err != nil {
		return usageErr("--max-model-len: %v", err)
	}
	if len(maxLens) == 0 {
		maxLens = []int{0}
	}
	us, err := parseList(*utils, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
	if err != nil {
		return usageErr("--gpu-memory-utilization: %v", err)
	}
	if len(us) == 0 {
		us = []float64{0}
	}
	customAR := *tp > 1 && !*noCustomAR && slices.Contains(nvlinkPresets, gpu)
	var rows []capacityRow
	var engine string
	for _, u := range us {
		for _, l := range maxLens {
			p, err := modelcfg.Predict(cfg, modelcfg.PredictInput{
				TotalMemoryBytes: totalBytes, GPUName: gpu, GPUMemoryUtilization: u, MaxModelLen: l,
				MaxNumSeqs: *maxSeqs, MaxNumBatchedTokens: *maxTokens, DType: *dtype, KVCacheDType: *kvDType,
				EnforceEager: *eager, TensorParallelSize: *tp, Quantization: *quant, VLLMVersion: *version,
				FlashInferSampler: *flashInfer, CustomAllReduce: customAR,
				AllReduceFusion: customAR && slices.Contains(allReduceFusionPresets, gpu),
			})
			if err != nil {
				return usageErr("%v", err)
			}
			rows = append(rows, capacityRowOf(gpu, p))
			engine = p.Engine
		}
	}
	return writeCapacity(stdout, *format, cfg.Name, engine, rows)
}

// nvlinkPresets are the GPU presets sold as SXM/OAM boards with NVLink
// (xGMI on MI300X), where vLLM's custom all-reduce is on at TP > 1. Custom
// and --gpu-file GPUs are taken as PCIe cards (custom all-reduce off).
var nvlinkPresets = []string{"A100-40GB", "A100-80GB", "H100-80GB", "H200", "H20", "B200", "MI300X"}

// allReduceFusionPresets are the NVLink presets of compute capability 9.0
// and 10.0, where vLLM's FlashInfer all-reduce + RMSNorm fusion runs.
var allReduceFusionPresets = []string{"H100-80GB", "H200", "H20", "B200"}

// userGPU is one entry of a --gpu-file.
type userGPU struct {
	Name      string  `json:"name"`
	MemoryGiB float64 `json:"memory_gib"`
}

// capacityGPU resolves --gpu, --gpu-memory-gib and --gpu-file to a name and
// the CUDA-visible bytes per GPU.
func capacityGPU(name string, memGiB float64, gpuFile string) (string, int64, error) {
	if memGiB < 0 {
		return "", 0, fmt.Errorf("--gpu-memory-gib %g: want a positive size", memGiB)
	}
	if gpuFile != "" && memGiB == 0 {
		data, err := os.ReadFile(gpuFile)
		if err != nil {
			return "", 0, fmt.Errorf("--gpu-file: %w", err)
		}
		var gpus []userGPU
		if err := json.Unmarshal(data, &gpus); err != nil {
			return "", 0, fmt.Errorf("--gpu-file %s: %w", gpuFile, err)
		}
		for _, g := range gpus {
			if strings.EqualFold(g.Name, name) {
				if g.MemoryGiB <= 0 {
					return "", 0, fmt.Errorf("--gpu-file %s: %s has no positive memory_gib", gpuFile, g.Name)
				}
				return g.Name, int64(g.MemoryGiB * float64(modelcfg.GiB)), nil
			}
		}
	}
	if v, ok := strings.CutPrefix(strings.ToLower(name), "custom:"); ok {
		g, err := strconv.ParseFloat(strings.TrimSuffix(v, "gib"), 64)
		if err != nil || g <= 0 {
			return "", 0, fmt.Errorf("--gpu %s: want custom:<GiB>, e.g. custom:47.5", name)
		}
		memGiB, name = g, "custom"
	}
	if memGiB > 0 {
		if name == simgpu.DefaultGPU {
			name = "custom"
		}
		return name, int64(memGiB * float64(modelcfg.GiB)), nil
	}
	g, err := simgpu.LookupGPU(name)
	if err != nil {
		return "", 0, fmt.Errorf("%v, or --gpu custom:<GiB>", err)
	}
	return g.Name, int64(g.MemoryBytes), nil
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func gibOf(b int64) float64 { return float64(int64(float64(b)/float64(modelcfg.GiB)*100+0.5)) / 100 }

func capacityRowOf(gpu string, p modelcfg.Prediction) capacityRow {
	return capacityRow{
		GPU: gpu, TensorParallelSize: p.TensorParallelSize, GPUMemoryUtilization: p.GPUMemoryUtilization,
		MaxModelLen: p.MaxModelLen, WeightsGiB: gibOf(p.WeightsBytes), ActivationGiB: gibOf(p.ActivationPeakBytes),
		NonTorchGiB: gibOf(p.NonTorchBytes), CUDAGraphGiB: gibOf(p.CUDAGraphBytes), KVPoolGiB: gibOf(p.KVPoolBytes),
		KVTokens: p.KVTokens, MaxConcurrency: p.EngineConcurrency, Fits: p.Fits,
		EstimatedMaxModelLen: p.EstimatedMaxModelLen, Failure: p.Failure,
	}
}

var capacityHeader = []string{"gpu", "tp", "util", "max_model_len", "weights_gib", "activation_gib", "non_torch_gib",
	"cuda_graph_gib", "kv_pool_gib", "kv_tokens", "max_concurrency", "fits", "largest_fitting_len"}

func (r capacityRow) cells() []string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	return []string{r.GPU, strconv.Itoa(r.TensorParallelSize), f(r.GPUMemoryUtilization), strconv.Itoa(r.MaxModelLen),
		f(r.WeightsGiB), f(r.ActivationGiB), f(r.NonTorchGiB), f(r.CUDAGraphGiB), f(r.KVPoolGiB),
		strconv.FormatInt(r.KVTokens, 10), f(r.MaxConcurrency), strconv.FormatBool(r.Fits), strconv.Itoa(r.EstimatedMaxModelLen)}
}

func writeCapacity(w io.Writer, format, model, engine string, rows []capacityRow) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Model  string        `json:"model"`
			Engine string        `json:"engine_profile"`
			Rows   []capacityRow `json:"rows"`
		}{model, engine, rows})
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(append(capacityHeader, "failure"))
		for _, r := range rows {
			cw.Write(append(r.cells(), r.Failure))
		}
		cw.Flush()
		return cw.Error()
	}
	fmt.Fprintf(w, "%s (GiB per GPU; vLLM accounting of profile %s)\n", model, engine)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(capacityHeader, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if !r.Fits {
			fmt.Fprintf(w, "\nutil %.2f, max_model_len %d does not fit: %s\n", r.GPUMemoryUtilization, r.MaxModelLen, r.Failure)
		}
	}
	return nil
}
