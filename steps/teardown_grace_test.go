package steps

import (
	"context"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
)

// TestTeardownKeepsItsFullGraceAfterTheFirstInterrupt: the first Ctrl-C
// cancels the step's context while a teardown waits for a server that takes
// a second to shut down; the server still gets its whole stop grace and
// exits gracefully instead of being SIGKILLed.
func TestTeardownKeepsItsFullGraceAfterTheFirstInterrupt(t *testing.T) {
	env := newTestEnv(t)
	l := newLaunch().(*Launch)
	l.SetID("slowstop")
	l.Shell = true
	l.Command = []string{`trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done`}
	l.StopGrace = spec.Duration(10 * time.Second)
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let sh install its trap

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	interrupt := time.AfterFunc(200*time.Millisecond, cancel) // the first Ctrl-C
	defer interrupt.Stop()
	start := time.Now()
	if err := (&Teardown{}).Run(ctx, env); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if graceful := mustValue(t, env, "slowstop_stop_graceful"); graceful != true {
		t.Errorf("stop_graceful = %v after %s, want true: the interrupt cut the grace", graceful, time.Since(start))
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("teardown returned after %s, before the server's 1s shutdown", d)
	}
}

// TestTeardownStillEndsAtItsStepTimeout: running through the interrupt does
// not make a teardown unbounded; the step's deadline still cuts the grace.
func TestTeardownStillEndsAtItsStepTimeout(t *testing.T) {
	env := newTestEnv(t)
	l := newLaunch().(*Launch)
	l.SetID("stubborn")
	l.Shell = true
	l.Command = []string{`trap '' TERM; while :; do sleep 0.05; done`}
	l.StopGrace = spec.Duration(30 * time.Second)
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = (&Teardown{}).Run(ctx, env)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("teardown took %s despite a 500ms step timeout", d)
	}
	if graceful := mustValue(t, env, "stubborn_stop_graceful"); graceful != false {
		t.Errorf("stop_graceful = %v, want false (killed at the step timeout)", graceful)
	}
}
