package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/spec"
)

// Launch starts a server.
type Launch struct {
	ID         string `yaml:"-" json:"-"`
	Process    `yaml:",inline"`
	Host       string        `yaml:"host" json:"host" doc:"host the server listens on, for URLs and the port check"`
	Port       Port          `yaml:"port" json:"port,omitempty" doc:"port the server will listen on, checked free before starting; auto: a free port chosen at launch, passed to the server where command or env say {port}, and recorded as <id>_port"`
	StopSignal Signal        `yaml:"stop_signal" json:"stop_signal" doc:"signal sent to the process group at teardown"`
	StopGrace  spec.Duration `yaml:"stop_grace" json:"stop_grace" doc:"time between stop_signal and SIGKILL to the group"`
	Log        string        `yaml:"log" json:"log" doc:"log file name in the point folder (stdout and stderr)"`
}

func newLaunch() Step {
	// CUDA numbers GPUs fastest-first unless told otherwise; NVML and
	// nvidia-smi use PCI order. Making CUDA use PCI order too means a GPU
	// index in a spec names the same card for the server and the measurement.
	return &Launch{Host: "127.0.0.1", StopSignal: SIGTERM, StopGrace: spec.Duration(30 * time.Second),
		Process: Process{Env: map[string]string{"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}}}
}

// SetID is called by the planner with the step's id.
func (l *Launch) SetID(id string) {
	l.ID = id
	if l.Log == "" {
		l.Log = id + ".log"
	}
}

// Endpoint is the host and port the server will listen on; 0 when the port
// is undeclared or chosen at launch (AutoPort).
func (l *Launch) Endpoint() (host string, port int) {
	if l.Port.Auto() {
		return l.Host, 0
	}
	return l.Host, int(l.Port)
}

// AutoPort reports whether the port is chosen at launch.
func (l *Launch) AutoPort() bool { return l.Port.Auto() }

// Validate reports every problem of the configuration, each at its key.
func (l *Launch) Validate() error {
	var p spec.Problems
	if len(l.Command) == 0 || l.Command[0] == "" {
		p.Add("command", "missing: give the server's argv, e.g. [vllm, serve, MODEL]")
	}
	if (l.Port < 0 && !l.Port.Auto()) || l.Port > 65535 {
		p.Add("port", "must be 0..65535 or auto, got %d", l.Port)
	}
	if l.Port.Auto() && !mentionsPort(l.Command, l.Env) {
		p.Add("port", "auto: the server must be told the chosen port; write %s where it goes in command or env (e.g. --port, %q)", PortPlaceholder, PortPlaceholder)
	}
	if _, ok := signals[l.StopSignal]; !ok {
		p.Add("stop_signal", "%s", spec.NotInEnum(string(l.StopSignal), l.StopSignal.Values()))
	}
	if !spec.Confined(l.Log) {
		p.Add("log", "%q must be a file name inside the point folder", l.Log)
	}
	return p.Err()
}

// Run checks the port (or chooses one, for port: auto), starts the process
// in its own group and registers its stop as a cleanup.
func (l *Launch) Run(ctx context.Context, env *Env) error {
	port := int(l.Port)
	if l.Port.Auto() {
		var err error
		if port, err = pickFreePort(l.Host); err != nil {
			return err
		}
		env.Set(l.ID+"_port", port)
		fmt.Fprintf(env.Log, "port: auto chose %d\n", port)
	} else if port > 0 {
		if err := proc.CheckPortFree(l.Host, port); err != nil {
			return leftoverOnPort(env, err)
		}
	}
	dir := l.Dir
	if dir == "" {
		dir = env.PointDir
	}
	logFile := env.PointDir + "/" + l.Log
	log, err := openInPoint(env, l.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("launch log: %w", err)
	}
	defer log.Close() // the server holds its own copy
	p, err := proc.Start(proc.Options{
		Argv:       resolveProgram(withPort(l.Command, port)),
		Shell:      l.Shell,
		Env:        envList(portInEnv(l.Env, port)),
		Dir:        dir,
		LogFile:    log,
		StopSignal: signals[l.StopSignal],
		StopGrace:  l.StopGrace.D(),
		Port:       port,
		Ledger:     ledgerPath(env),
	})
	if err != nil {
		return err // proc's error names the program and why
	}
	s := &Server{ID: l.ID, Proc: p, Host: l.Host, Port: port, LogPath: logFile, Started: time.Now()}
	if port > 0 {
		s.URL = "http://" + net.JoinHostPort(l.Host, strconv.Itoa(port))
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

// portInEnv is env with PortPlaceholder replaced in its values.
func portInEnv(env map[string]string, port int) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = withPort([]string{v}, port)[0]
	}
	return out
}

// LeftoverPortError is a launch's port held by a process that a previous
// run of the same experiment launched and did not stop (runexp was
// killed): it names that run and how to reap the leftover.
type LeftoverPortError struct {
	*proc.PortInUseError
	Run   string           // the previous run's folder
	Entry proc.LedgerEntry // its ledger's record of the launch
	PIDs  []int            // what is still alive of that launch
}

func (e *LeftoverPortError) Error() string {
	pids := make([]string, len(e.PIDs))
	for i, pid := range e.PIDs {
		pids[i] = strconv.Itoa(pid)
	}
	return fmt.Sprintf("%v: a leftover of run %s (pid %d, %s, launched %s); stop it with: kill %s",
		e.PortInUseError, e.Run, e.Entry.PID, e.Entry.Argv0, e.Entry.Time.Local().Format(time.DateTime), strings.Join(pids, " "))
}

// Unwrap keeps errors.As(err, **proc.PortInUseError) and
// errors.Is(err, syscall.EADDRINUSE) true.
func (e *LeftoverPortError) Unwrap() error { return e.PortInUseError }

// leftoverOnPort turns a port-in-use error into a *LeftoverPortError when a
// ledger of another run of the same experiment (its sibling folders) records
// a launch on that port that is still alive and, when the owner is known,
// owns the port. It reads only those ledgers, so it stays cheap.
func leftoverOnPort(env *Env, err error) error {
	var inUse *proc.PortInUseError
	if !errors.As(err, &inUse) || env.RunDir == "" {
		return err
	}
	ledgers, _ := filepath.Glob(filepath.Join(filepath.Dir(env.RunDir), "*", proc.LedgerName))
	self := filepath.Clean(env.RunDir)
	for i := len(ledgers) - 1; i >= 0; i-- { // newest run names sort last
		run := filepath.Dir(ledgers[i])
		if filepath.Clean(run) == self {
			continue // this run's servers are not leftovers
		}
		entries, rerr := proc.ReadLedger(ledgers[i])
		if rerr != nil {
			continue
		}
		for _, e := range entries {
			if e.Port != inUse.Port {
				continue
			}
			left := e.Leftovers()
			if len(left) == 0 || (inUse.PID > 0 && !slices.Contains(left, inUse.PID)) {
				continue
			}
			return &LeftoverPortError{PortInUseError: inUse, Run: run, Entry: e, PIDs: left}
		}
	}
	return err
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
