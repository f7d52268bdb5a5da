//go:build !(linux && cgo)

// Package nvml is the NVML backend. This build has no cgo (or is not for
// Linux), so NVML cannot be loaded: New always fails.
package nvml

import "github.com/runexp/runexp/internal/gpu"

// Name is the spec name of this backend.
const Name = "nvml"

// Options selects devices (see the cgo build).
type Options struct {
	Device string
}

// Backend is never constructed in this build.
type Backend struct{ gpu.Backend }

// New fails: NVML needs cgo on Linux.
func New(opt Options) (*Backend, error) {
	return nil, gpu.Unavailable("NVML unavailable: this runexp binary was built without cgo (CGO_ENABLED=0) or not for Linux; use gpu: nvidia-smi or host")
}
