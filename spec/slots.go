package spec

// Slots declares what parallel points share out. Slot i holds
// GPUs[i*GPUsPerPoint : (i+1)*GPUsPerPoint] (with GPUsPerPoint alone, the
// host's devices as the GPU backend lists them) and Ports[i].
type Slots struct {
	GPUs         []int `yaml:"gpus" json:"gpus,omitempty" doc:"GPU indices to share out, one slot per gpus_per_point of them"`
	GPUsPerPoint int   `yaml:"gpus_per_point" json:"gpus_per_point,omitempty" doc:"GPUs each slot gets (default 1); alone, the host's GPUs are shared out"`
	Ports        []int `yaml:"ports" json:"ports,omitempty" doc:"one port per slot, as ${slot.port}, so that parallel servers never collide"`

	Pos Pos `yaml:"-" json:"-"`
}
