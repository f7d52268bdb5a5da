package spec

// Slots declares the GPUs that parallel points share out. Slot i holds
// GPUs[i*GPUsPerPoint : (i+1)*GPUsPerPoint]; without GPUs the host's devices
// (as the GPU backend lists them) are used.
type Slots struct {
	GPUs         []int `yaml:"gpus" json:"gpus,omitempty" doc:"GPU indices to share out (default: every GPU the backend lists)"`
	GPUsPerPoint int   `yaml:"gpus_per_point" json:"gpus_per_point,omitempty" doc:"GPUs each slot gets (default 1)"`

	Pos Pos `yaml:"-" json:"-"`
}
