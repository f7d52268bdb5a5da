package open

import (
	"context"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/simgpu"
)

// "sim" reads the vLLM simulator's accounting (internal/gpu/simgpu).
func init() {
	Register("sim", func(_ context.Context, opt Options) (gpu.Backend, error) {
		return simgpu.New(simgpu.Options{GPU: opt.SimGPU, StateDir: opt.SimStateDir, Device: opt.Device})
	})
}
