package steps

// Config pieces shared by several step kinds, embedded (`yaml:",inline"`) so
// that each key is declared, documented and decoded once. GPUSpec (gpu.go)
// is the third.

// Process is how a step starts a process: launch (a server) and exec (a
// command run to completion).
type Process struct {
	Command []string          `yaml:"command" json:"command" doc:"argv; no shell unless shell: true. argv[0] runexp means this runexp binary"`
	Shell   bool              `yaml:"shell" json:"shell,omitempty" doc:"run command joined by spaces with /bin/sh -c"`
	Env     map[string]string `yaml:"env" json:"env,omitempty" doc:"extra environment variables (launch adds CUDA_DEVICE_ORDER=PCI_BUS_ID unless set)"`
	Dir     string            `yaml:"dir" json:"dir,omitempty" doc:"working directory (default: the point folder)"`
}

// ServerRef names the launched server a step talks to, and holds the URL
// the plan shows for it (set by SetTarget, never decoded).
type ServerRef struct {
	Server string `yaml:"server" json:"server,omitempty" doc:"id of the launch step (default: the last launched server)"`
	Target string `yaml:"-" json:"target,omitempty"`
}

// DevicePinner is implemented by the steps a runner can confine to a slot's
// GPUs (a comma-separated list of indices) when points run in parallel:
// launch exports CUDA_VISIBLE_DEVICES, the steps that read devices read
// only those. A value the spec sets itself is kept.
type DevicePinner interface {
	PinDevices(gpus string)
}

// PinDevices sets CUDA_VISIBLE_DEVICES for the server unless the spec does.
func (l *Launch) PinDevices(gpus string) {
	if _, set := l.Env["CUDA_VISIBLE_DEVICES"]; set {
		return
	}
	if l.Env == nil {
		l.Env = map[string]string{}
	}
	l.Env["CUDA_VISIBLE_DEVICES"] = gpus
}

// PinDevices reads only gpus unless the spec names a device.
func (g *GPUSpec) PinDevices(gpus string) {
	if g.Device == "" {
		g.Device = gpus
	}
}

var (
	_ DevicePinner = (*Launch)(nil)
	_ DevicePinner = (*Measure)(nil)
	_ DevicePinner = (*Telemetry)(nil)
	_ DevicePinner = (*ReleaseCheck)(nil)
)
