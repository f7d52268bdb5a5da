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
