package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
)

// findProc returns the pids whose argv is exactly argv.
func findProc(argv ...string) []int {
	want := []byte(strings.Join(argv, "\x00") + "\x00")
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Equal(b, want) {
			out = append(out, pid)
		}
	}
	return out
}

// `runexp x.yaml | tee log` and Ctrl-C: the terminal's SIGINT also ends tee,
// so runexp's next progress line hits a closed pipe. That write must fail
// (EPIPE) rather than kill runexp, so the cleanup stack still stops the
// launched server (in its own process group, untouched by the terminal's
// Ctrl-C).
func TestClosedStdoutPipeStillTearsDownOnInterrupt(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "runexp")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/runexp").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	marker := fmt.Sprintf("%d.25", 5000+os.Getpid()%4000)
	spec := writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: pipe
studies:
  - name: s
    steps:
      - {id: server, type: launch, with: {command: [sleep, "%s"], stop_grace: 1s}}
      - {id: wait, type: sleep, with: {duration: 60s}}
      - {id: stop, type: teardown, needs: [server], always: true}
`, marker))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, spec, "--out", filepath.Join(dir, "runs"))
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		for _, pid := range findProc("sleep", marker) {
			syscall.Kill(pid, syscall.SIGKILL) // the server this test's runexp started
		}
	})
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "wait (sleep) ...") {
			break
		}
	}
	r.Close() // the `tee` end of the pipe dies with Ctrl-C
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("runexp did not exit")
	}
	time.Sleep(200 * time.Millisecond)
	if left := findProc("sleep", marker); len(left) > 0 {
		t.Fatalf("runexp exited (%v) leaving the launched server running: pids %v\nstderr:\n%s", cmd.ProcessState, left, stderr.String())
	}
}

// The signal handler's goroutine ends with the command it served: none is
// left behind per run (signal.Stop does not close the signal channel).
func TestSignalHandlerEndsWithTheCommand(t *testing.T) {
	good := writeSpec(t, okSpec)
	out := t.TempDir()
	for i := 0; i < 3; i++ {
		if code, stdout, stderr := run(good, "--out", out); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
	}
	time.Sleep(100 * time.Millisecond)
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if n := strings.Count(stacks, "cli.interruptible.func"); n > 0 {
		t.Fatalf("%d signal goroutines of finished runs are still alive", n)
	}
}

// The first signal cancels the command's context with cause
// exitcode.ErrInterrupted and prints the notice; the handler stops with the
// command.
func TestFirstSignalCancelsWithTheInterruptedCause(t *testing.T) {
	var stderr bytes.Buffer
	ctx, stop := interruptible(context.Background(), &stderr, "stopping gracefully")
	defer stop()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not cancel the context")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, exitcode.ErrInterrupted) {
		t.Errorf("cause %v, want exitcode.ErrInterrupted", cause)
	}
	if exitcode.Of(context.Cause(ctx)) != exitcode.Interrupted {
		t.Errorf("exit code %d, want 130", exitcode.Of(context.Cause(ctx)))
	}
	stop()
	if !strings.Contains(stderr.String(), "hangup: stopping gracefully") {
		t.Errorf("notice %q", stderr.String())
	}
}
