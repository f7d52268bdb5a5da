package simgpu

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// GPU is a simulated accelerator preset. The numbers are public data-sheet
// values for the variant named (SXM for H100/H200/A100), except
// MemoryBytes, which is the total that CUDA (torch.cuda.mem_get_info)
// reports — the figure vLLM's memory budget starts from, a little below the
// marketing size; PyTorch's OOM messages show 79.1–79.3 GiB on H100-80GB
// and 79.15 GiB on A100-80GB depending on the driver.
type GPU struct {
	// Name is the preset name accepted by --gpu ("H100-80GB").
	Name string
	// Product is the name a real driver would report.
	Product string
	// MemoryBytes is the CUDA-visible device memory.
	MemoryBytes uint64
	// MemoryBandwidth is the peak HBM/GDDR bandwidth in bytes per second.
	MemoryBandwidth float64
	// PeakFLOPS is the dense 16-bit tensor-core peak in FLOP/s: bf16 where the
	// card has it, fp16 otherwise (T4).
	PeakFLOPS float64
	// BF16 reports native bfloat16 support (compute capability >= 8.0).
	BF16 bool
	// IdleWatts and TDPWatts bound the simulated power draw.
	IdleWatts, TDPWatts float64

	index int // which of the host's simulated GPUs of this preset (At)
}

// At returns the preset as the host's simulated GPU number index: a
// simulated server takes the first GPU of its CUDA_VISIBLE_DEVICES, so
// parallel points on their own slots do not share memory.
func (g GPU) At(index int) GPU {
	g.index = max(index, 0)
	return g
}

// Index is the GPU's number on the simulated host.
func (g GPU) Index() int { return g.index }

// gib converts GiB to bytes, rounded to whole MiB as drivers report them.
func gib(x float64) uint64 { return uint64(math.Round(x*1024)) << 20 }

// gpuPresets is the one table of simulated GPUs, shared by the simulated
// server (internal/sim) and this backend through LookupGPU and GPUs.
var gpuPresets = []GPU{
	{Name: "H100-80GB", Product: "NVIDIA H100 80GB HBM3 (simulated)", MemoryBytes: gib(79.19), MemoryBandwidth: 3.35e12, PeakFLOPS: 989e12, BF16: true, IdleWatts: 70, TDPWatts: 700},
	{Name: "H200", Product: "NVIDIA H200 (simulated)", MemoryBytes: gib(139.81), MemoryBandwidth: 4.8e12, PeakFLOPS: 989e12, BF16: true, IdleWatts: 75, TDPWatts: 700},
	{Name: "A100-40GB", Product: "NVIDIA A100-SXM4-40GB (simulated)", MemoryBytes: gib(39.39), MemoryBandwidth: 1.555e12, PeakFLOPS: 312e12, BF16: true, IdleWatts: 50, TDPWatts: 400},
	{Name: "A100-80GB", Product: "NVIDIA A100-SXM4-80GB (simulated)", MemoryBytes: gib(79.15), MemoryBandwidth: 2.039e12, PeakFLOPS: 312e12, BF16: true, IdleWatts: 55, TDPWatts: 400},
	{Name: "L4", Product: "NVIDIA L4 (simulated)", MemoryBytes: gib(22.06), MemoryBandwidth: 300e9, PeakFLOPS: 121e12, BF16: true, IdleWatts: 16, TDPWatts: 72},
	{Name: "T4", Product: "Tesla T4 (simulated)", MemoryBytes: gib(14.56), MemoryBandwidth: 320e9, PeakFLOPS: 65e12, BF16: false, IdleWatts: 10, TDPWatts: 70},
	{Name: "RTX-4090", Product: "NVIDIA GeForce RTX 4090 (simulated)", MemoryBytes: gib(23.65), MemoryBandwidth: 1.008e12, PeakFLOPS: 165e12, BF16: true, IdleWatts: 20, TDPWatts: 450},
	// Bandwidth, dense 16-bit tensor peak (half the data sheets' "with
	// sparsity" figure) and board power from the vendor data sheets named;
	// MemoryBytes is the CUDA-visible total where a public log shows it, else
	// the data-sheet capacity less about 4 % (the ratio seen on H100 and
	// A100), marked "est.".
	// NVIDIA A10 data sheet (A10G is AWS's A10 variant, G5 instances): 24 GB GDDR6, 600 GB/s, 125 TF BF16, 150 W. 22.19 GiB as PyTorch OOM messages on g5 instances show it (recalled, not re-checked).
	{Name: "A10G", Product: "NVIDIA A10G (simulated)", MemoryBytes: gib(22.19), MemoryBandwidth: 600e9, PeakFLOPS: 125e12, BF16: true, IdleWatts: 15, TDPWatts: 300},
	// NVIDIA L40S data sheet: 48 GB GDDR6, 864 GB/s, 362 TF BF16, 350 W; 44.52 GiB est.
	{Name: "L40S", Product: "NVIDIA L40S (simulated)", MemoryBytes: gib(44.52), MemoryBandwidth: 864e9, PeakFLOPS: 362e12, BF16: true, IdleWatts: 35, TDPWatts: 350},
	// NVIDIA RTX A6000 data sheet: 48 GB GDDR6, 768 GB/s, 155 TF BF16, 300 W; 47.54 GiB as PyTorch OOM messages on A6000 show it (recalled, not re-checked).
	{Name: "A6000", Product: "NVIDIA RTX A6000 (simulated)", MemoryBytes: gib(47.54), MemoryBandwidth: 768e9, PeakFLOPS: 155e12, BF16: true, IdleWatts: 20, TDPWatts: 300},
	// NVIDIA GeForce RTX 3090 spec: 24 GB GDDR6X, 936 GB/s, 71 TF BF16, 350 W; 23.58 GiB is vLLM's total_gpu_memory in vllm-project/vllm#10517.
	{Name: "RTX-3090", Product: "NVIDIA GeForce RTX 3090 (simulated)", MemoryBytes: gib(23.58), MemoryBandwidth: 936e9, PeakFLOPS: 71e12, BF16: true, IdleWatts: 20, TDPWatts: 350},
	// NVIDIA V100 data sheet (SXM2 32 GB): 900 GB/s, 125 TF FP16 tensor, no BF16, 300 W; 31.74 GiB as PyTorch OOM messages on V100-32GB show it (recalled, not re-checked).
	{Name: "V100-32GB", Product: "Tesla V100-SXM2-32GB (simulated)", MemoryBytes: gib(31.74), MemoryBandwidth: 900e9, PeakFLOPS: 125e12, BF16: false, IdleWatts: 40, TDPWatts: 300},
	// NVIDIA H20 product brief: 96 GB HBM3, 4.0 TB/s, 148 TF BF16, 400 W; 94.99 GiB est.
	{Name: "H20", Product: "NVIDIA H20 (simulated)", MemoryBytes: gib(94.99), MemoryBandwidth: 4.0e12, PeakFLOPS: 148e12, BF16: true, IdleWatts: 60, TDPWatts: 400},
	// NVIDIA DGX/HGX B200 data sheet: 180 GB HBM3e per GPU, 8 TB/s, 2.25 PF BF16 dense, 1000 W; 178.36 GiB est.
	{Name: "B200", Product: "NVIDIA B200 (simulated)", MemoryBytes: gib(178.36), MemoryBandwidth: 8e12, PeakFLOPS: 2.25e15, BF16: true, IdleWatts: 140, TDPWatts: 1000},
	// AMD Instinct MI300X data sheet: 192 GB HBM3, 5.3 TB/s, 1307 TF BF16 dense, 750 W; 191.69 GiB est. (192 GB less the driver's reserve).
	{Name: "MI300X", Product: "AMD Instinct MI300X (simulated)", MemoryBytes: gib(191.69), MemoryBandwidth: 5.3e12, PeakFLOPS: 1307e12, BF16: true, IdleWatts: 140, TDPWatts: 750},
}

// DefaultGPU is the preset used when --gpu is not given.
const DefaultGPU = "H100-80GB"

// GPUs returns every preset, in a fixed order.
func GPUs() []GPU { return append([]GPU(nil), gpuPresets...) }

// GPUNames returns the preset names, in the order of GPUs.
func GPUNames() []string {
	names := make([]string, len(gpuPresets))
	for i, g := range gpuPresets {
		names[i] = g.Name
	}
	return names
}

// LookupGPU finds a preset by name or slug, case-insensitively; "" means
// DefaultGPU. The error lists the presets.
func LookupGPU(name string) (GPU, error) {
	if name == "" {
		name = DefaultGPU
	}
	for _, g := range gpuPresets {
		if strings.EqualFold(name, g.Name) || strings.EqualFold(name, g.Slug()) {
			return g, nil
		}
	}
	return GPU{}, fmt.Errorf("unknown simulated GPU %q (presets: %s)", name, strings.Join(GPUNames(), ", "))
}

// Slug is the lower-case preset name ("h100-80gb").
func (g GPU) Slug() string { return strings.ToLower(g.Name) }

// UUID is the simulated device's identity, "GPU-sim-<slug>".
func (g GPU) UUID() string {
	if g.index == 0 {
		return "GPU-sim-" + g.Slug()
	}
	return "GPU-sim-" + g.Slug() + "-" + strconv.Itoa(g.index)
}

// PowerWatts is the simulated board power at a utilisation in [0, 100]:
// linear between IdleWatts and TDPWatts.
func (g GPU) PowerWatts(utilPercent float64) float64 {
	u := math.Max(0, math.Min(100, utilPercent)) / 100
	return g.IdleWatts + (g.TDPWatts-g.IdleWatts)*u
}
