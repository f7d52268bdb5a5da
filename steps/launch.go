package steps

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/spec"
)

// Launch starts a server.
type Launch struct {
	ID         string            `yaml:"-" json:"-"`
	Command    []string          `yaml:"command" json:"command" doc:"argv; no shell unless shell: true. argv[0] runexp means this runexp binary"`
	Shell      bool              `yaml:"shell" json:"shell,omitempty" doc:"run command joined by spaces with /bin/sh -c"`
	Env        map[string]string `yaml:"env" json:"env,omitempty" doc:"extra environment variables (CUDA_DEVICE_ORDER=PCI_BUS_ID is added unless set)"`
	Dir        string            `yaml:"dir" json:"dir,omitempty" doc:"working directory (default: the point folder)"`
	Host       string            `yaml:"host" json:"host" doc:"host the server listens on, for URLs and the port check"`
	Port       int               `yaml:"port" json:"port,omitempty" doc:"port the server will listen on; checked free before starting"`
	StopSignal Signal            `yaml:"stop_signal" json:"stop_signal" doc:"signal sent to the process group at teardown"`
	StopGrace  spec.Duration     `yaml:"stop_grace" json:"stop_grace" doc:"time between stop_signal and SIGKILL to the group"`
	Log        string            `yaml:"log" json:"log" doc:"log file name in the point folder (stdout and stderr)"`
}

func newLaunch() Step {
	// CUDA numbers GPUs fastest-first unless told otherwise; NVML and
	// nvidia-smi use PCI order. Making CUDA use PCI order too means a GPU
	// index in a spec names the same card for the server and the measurement.
	return &Launch{Host: "127.0.0.1", StopSignal: SIGTERM, StopGrace: spec.Duration(30 * time.Second),
		Env: map[string]string{"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}}
}

// SetID is called by the planner with the step's id.
func (l *Launch) SetID(id string) {
	l.ID = id
	if l.Log == "" {
		l.Log = id + ".log"
	}
}

// Endpoint is the host and port the server will listen on.
func (l *Launch) Endpoint() (host string, port int) { return l.Host, l.Port }

// Validate reports every problem of the configuration, each at its key.
func (l *Launch) Validate() error {
	var p spec.Problems
	if len(l.Command) == 0 || l.Command[0] == "" {
		p.Add("command", "missing: give the server's argv, e.g. [vllm, serve, MODEL]")
	}
	if l.Port < 0 || l.Port > 65535 {
		p.Add("port", "must be 0..65535, got %d", l.Port)
	}
	if _, ok := signals[l.StopSignal]; !ok {
		p.Add("stop_signal", "%s", spec.NotInEnum(string(l.StopSignal), l.StopSignal.Values()))
	}
	if !spec.Confined(l.Log) {
		p.Add("log", "%q must be a file name inside the point folder", l.Log)
	}
	return p.Err()
}

// Run checks the port, starts the process in its own group and registers its
// stop as a cleanup.
func (l *Launch) Run(ctx context.Context, env *Env) error {
	if l.Port > 0 {
		if err := proc.CheckPortFree(l.Host, l.Port); err != nil {
			return err
		}
	}
	dir := l.Dir
	if dir == "" {
		dir = env.PointDir
	}
	logFile := env.PointDir + "/" + l.Log
	p, err := proc.Start(proc.Options{
		Argv:       resolveProgram(l.Command),
		Shell:      l.Shell,
		Env:        envList(l.Env),
		Dir:        dir,
		LogPath:    logFile,
		StopSignal: signals[l.StopSignal],
		StopGrace:  l.StopGrace.D(),
		Port:       l.Port,
		Ledger:     ledgerPath(env),
	})
	if err != nil {
		return err // proc's error names the program and why
	}
	s := &Server{ID: l.ID, Proc: p, Host: l.Host, Port: l.Port, LogPath: logFile, Started: time.Now()}
	if l.Port > 0 {
		s.URL = "http://" + net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
	}
	env.AddServer(s)
	env.Set(l.ID+"_pid", p.PID())
	env.Defer("stop "+l.ID, func(ctx context.Context) error {
		_, err := StopServer(ctx, env, s)
		return err
	})
	fmt.Fprintf(env.Log, "started pid %d (group %d), log %s\n", p.PID(), p.PGID(), logFile)
	return nil
}

// ledgerPath is the run folder's record of launched servers, which names
// the leftovers of a killed run; none without a run folder.
func ledgerPath(env *Env) string {
	if env.RunDir == "" {
		return ""
	}
	return filepath.Join(env.RunDir, proc.LedgerName)
}

// StopServer stops a server's whole process group (idempotent) and records
// how it went the first time.
func StopServer(ctx context.Context, env *Env, s *Server) (proc.StopReport, error) {
	rep, err := s.Proc.Stop(ctx)
	if _, done := env.Value(s.ID + "_stop_s"); !done {
		env.Set(s.ID+"_stop_s", rep.Duration.Seconds())
		env.Set(s.ID+"_stop_graceful", rep.Graceful)
	}
	return rep, err
}
