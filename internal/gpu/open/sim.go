package open

import (
	"context"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/simgpu"
)

// "sim" reads the vLLM simulator's accounting (internal/gpu/simgpu). With
// no sim_gpu it reads the GPU of the simulated servers that run, so a
// measure step reports the `--gpu L4` its launched `runexp sim serve` was
// given.
func init() {
	Register("sim", func(_ context.Context, opt Options) (gpu.Backend, error) {
		// Without a sim_gpu preset the backend follows the GPU of the
		// launched simulator; a device selection (parallel slots) picks
		// simulated GPUs of the default preset by index.
		preset := opt.SimGPU
		if preset == "" && opt.Device == "" {
			preset = simgpu.Launched
		}
		return simgpu.New(simgpu.Options{GPU: preset, StateDir: opt.SimStateDir, Device: opt.Device})
	})
}
