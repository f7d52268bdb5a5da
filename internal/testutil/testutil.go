// Package testutil holds helpers for tests that run real processes and
// servers (a free loopback port, a goroutine-safe output buffer, a /proc
// scan for processes left behind) and golden files (-update). Only test
// code imports it.
package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Buffer is a bytes.Buffer safe for a writer (an exec.Cmd's output copier)
// and concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CmdlineContains matches processes whose NUL-separated command line
// contains s.
func CmdlineContains(s string) func(cmdline []byte) bool {
	return func(cmdline []byte) bool { return bytes.Contains(cmdline, []byte(s)) }
}

// CmdlineStartsWith matches processes whose argv[0] is exactly prog.
func CmdlineStartsWith(prog string) func(cmdline []byte) bool {
	return func(cmdline []byte) bool { return bytes.HasPrefix(cmdline, []byte(prog+"\x00")) }
}

// Processes lists live (not zombie) processes other than this one whose
// command line matches, as "pid argv...".
func Processes(match func(cmdline []byte) bool) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !match(cmdline) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return out
}

// AssertNoProcesses fails unless, within wait, no matching process is left.
func AssertNoProcesses(t testing.TB, match func(cmdline []byte) bool, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left := Processes(match)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
