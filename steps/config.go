package steps

import (
	"regexp"
	"slices"
	"strings"
)

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

// Requirer is implemented by the steps that need something of the machine
// before any point runs: the runner checks every requirement of the plan
// at once (preflight), rather than letting each point fail on it.
type Requirer interface {
	Requirements() Requirements
}

// Requirements is what a step needs of the machine.
type Requirements struct {
	// Program must be startable: on PATH, or an absolute executable path.
	// Empty when the step runs this runexp or names a program only the
	// shell resolves.
	Program string
	// Host and Port must be free (Port 0: no fixed port).
	Host string
	Port int
	// EnvKey names the key (e.g. api_key_env) whose environment variable
	// EnvVar must be set.
	EnvKey, EnvVar string
}

// plainWord is a shell command's first word that names a program.
var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./+-]+$`)

// shellBuiltins are first words of a shell command that are no program.
var shellBuiltins = []string{"cd", "exec", "export", "set", "source", ".", "eval", "env", "exit", "true", "false", "test", "[", "echo", "printf", "trap", "ulimit", "umask", "wait", "sleep", "if", "for", "while", "case", "until"}

// program is the program p starts: argv[0], or for shell: true the first
// word of the command when it plainly names one; "" for this runexp.
func (p Process) program() string {
	if len(p.Command) == 0 {
		return ""
	}
	name := p.Command[0]
	if p.Shell {
		words := strings.Fields(strings.Join(p.Command, " "))
		if len(words) == 0 || !plainWord.MatchString(words[0]) || slices.Contains(shellBuiltins, words[0]) {
			return ""
		}
		name = words[0]
	}
	if name == "runexp" {
		return "" // this binary (resolveProgram)
	}
	return name
}

// Requirements are the server's program and its fixed port.
func (l *Launch) Requirements() Requirements {
	host, port := l.Endpoint()
	return Requirements{Program: l.program(), Host: host, Port: port}
}

// Requirements are the command's program.
func (x *Exec) Requirements() Requirements { return Requirements{Program: x.program()} }

// Requirements are the API key's environment variable.
func (l *Load) Requirements() Requirements {
	return Requirements{EnvKey: "api_key_env", EnvVar: l.APIKeyEnv}
}

var (
	_ Requirer = (*Launch)(nil)
	_ Requirer = (*Exec)(nil)
	_ Requirer = (*Load)(nil)
)
