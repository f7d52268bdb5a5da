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
