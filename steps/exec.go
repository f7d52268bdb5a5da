package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/runexp/runexp/spec"
)

// Exec runs a command to completion.
type Exec struct {
	ID         string `yaml:"-" json:"-"`
	Process    `yaml:",inline"`
	ExpectExit int    `yaml:"expect_exit" json:"expect_exit" doc:"exit code that means success"`
	Record     string `yaml:"record" json:"record,omitempty" doc:"record the command's trimmed output (up to 4 KiB) under this name"`
	Log        string `yaml:"log" json:"log" doc:"log file name in the point folder"`
	Server     string `yaml:"server" json:"server,omitempty" doc:"launch step whose port replaces {port} in command and env (default: the last launched server), so a command can reach a server on port: auto"`
}

func newExec() Step { return &Exec{} }

// SetID is called by the planner with the step's id.
func (x *Exec) SetID(id string) {
	x.ID = id
	if x.Log == "" {
		x.Log = id + ".log"
	}
}

// Validate reports every problem of the configuration, each at its key.
func (x *Exec) Validate() error {
	var p spec.Problems
	if len(x.Command) == 0 || x.Command[0] == "" {
		p.Add("command", "missing")
	}
	if !spec.Confined(x.Log) {
		p.Add("log", "%q must be a file name inside the point folder", x.Log)
	}
	return p.Err()
}

// Run runs the command in its own process group; on timeout or interrupt the
// whole group is killed.
func (x *Exec) Run(ctx context.Context, env *Env) error {
	command, vars, err := x.withServerPort(env)
	if err != nil {
		return err
	}
	argv := resolveProgram(command)
	if x.Shell {
		argv = []string{"/bin/sh", "-c", strings.Join(command, " ")}
	}
	logFile, err := openInPoint(env, x.Log, os.O_CREATE|os.O_RDWR|os.O_APPEND)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = x.Dir
	if cmd.Dir == "" {
		cmd.Dir = env.PointDir
	}
	cmd.Env = append(os.Environ(), envList(vars)...)
	// The child writes to the log file itself, not through a pipe: a
	// background child that keeps its output open cannot hold up Wait. The
	// output is read back from the log afterwards.
	var from int64
	if fi, err := logFile.Stat(); err == nil {
		from = fi.Size()
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err = cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leftovers of the group
	}
	b := readFrom(logFile, from, 4096) // by descriptor: the name may have been replaced meanwhile
	out := string(b)
	env.Set(x.ID+"_exit", code)
	if x.Record != "" {
		env.Set(x.Record, strings.TrimSpace(out))
	}
	if ctx.Err() != nil {
		// The group was killed for the deadline or an interrupt: that, not the
		// exit code the kill produced, is what happened.
		return fmt.Errorf("%s: %w", x.Command[0], context.Cause(ctx))
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return fmt.Errorf("%s: %w", x.Command[0], err)
	}
	if code != x.ExpectExit {
		return fmt.Errorf("%s exited with %d (expected %d): %s", x.Command[0], code, x.ExpectExit, lastLine(out))
	}
	return nil
}

// readFrom returns the last limit bytes of f at or after offset from.
func readFrom(f *os.File, from, limit int64) []byte {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := min(max(from, fi.Size()-limit), fi.Size())
	b, _ := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	return b
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Sleep waits.
type Sleep struct {
	Duration spec.Duration `yaml:"duration" json:"duration" doc:"how long to wait"`
}

func newSleep() Step { return &Sleep{} }

// Validate reports every problem of the configuration, each at its key.
func (s *Sleep) Validate() error {
	var p spec.Problems
	if s.Duration <= 0 {
		p.Add("duration", "must be positive, e.g. 5s")
	}
	return p.Err()
}

// Run waits for the duration or until ctx ends.
func (s *Sleep) Run(ctx context.Context, env *Env) error {
	t := time.NewTimer(s.Duration.D())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// UsesServer names the launch whose port replaces {port}; a command or env
// that mentions {port} needs one.
func (x *Exec) UsesServer() (id, needs string) {
	if mentionsPort(x.Command, x.Env) {
		needs = PortPlaceholder + " in command or env"
	}
	return x.Server, needs
}

// withServerPort returns the command and env with PortPlaceholder replaced
// by the port of the server the step names (or the last launched): the
// port a launch on port: auto chose is known only now.
func (x *Exec) withServerPort(env *Env) ([]string, map[string]string, error) {
	if !mentionsPort(x.Command, x.Env) {
		return x.Command, x.Env, nil
	}
	srv, err := env.Server(x.Server)
	if err != nil {
		return nil, nil, fmt.Errorf("%s in command or env: %w", PortPlaceholder, err)
	}
	if srv.Port == 0 {
		return nil, nil, fmt.Errorf("%s in command or env: server %q declares no port", PortPlaceholder, srv.ID)
	}
	return withPort(x.Command, srv.Port), portInEnv(x.Env, srv.Port), nil
}
