package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/spec"
)

// TestPortHeldByALeftoverOfAnEarlierRunIsNamed: a server that a killed run
// of the same experiment launched still holds the port; the launch's error
// names it (pid, program, run folder) and how to reap it.
func TestPortHeldByALeftoverOfAnEarlierRunIsNamed(t *testing.T) {
	exp := t.TempDir()
	oldRun := filepath.Join(exp, "20260101-000000")
	newRun := filepath.Join(exp, "20260101-000100")
	for _, d := range []string{oldRun, newRun} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	// The earlier run's server, recorded in its ledger, never stopped by it.
	left, err := proc.Start(proc.Options{Argv: []string{fakeServer, "--port", strconv.Itoa(port)},
		Port: port, Ledger: filepath.Join(oldRun, proc.LedgerName), StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { left.Stop(context.Background()) })
	waitFor(t, 10*time.Second, "the leftover to listen", func() bool { return proc.CheckPortFree("127.0.0.1", port) != nil })

	env := NewEnv(newRun, newRun, t.TempDir(), "s", spec.Point{}, testLogWriter{t})
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", strconv.Itoa(port)}
	l.Port = Port(port)
	err = l.Run(context.Background(), env)
	var leftover *LeftoverPortError
	if !errors.As(err, &leftover) {
		t.Fatalf("launch: %v, want a *LeftoverPortError", err)
	}
	var inUse *proc.PortInUseError
	if !errors.As(err, &inUse) {
		t.Errorf("%v no longer is a *proc.PortInUseError", err)
	}
	msg := err.Error()
	for _, want := range []string{oldRun, "pid " + strconv.Itoa(left.PID()), fakeServer, "kill " + strconv.Itoa(left.PID())} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
}
