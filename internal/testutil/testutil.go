// Package testutil holds helpers for tests that run real processes and
// servers (a free loopback port, a goroutine-safe output buffer, a /proc
// scan for processes left behind) and golden files (-update). Only test
// code imports it.
package testutil

import (
	"bytes"
	"encoding/csv"
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

// OwnerEnv is the environment variable MarkOwnProcesses sets.
const OwnerEnv = "RUNEXP_TEST_OWNER"

// MarkOwnProcesses puts OwnerEnv=<this pid> into this test binary's
// environment, which every process it starts (and theirs) inherits, and
// returns the entry: OwnedBy(entry) then tells this binary's processes
// from those of other tests or users on a shared machine. Call it from
// TestMain.
func MarkOwnProcesses() string {
	v := strconv.Itoa(os.Getpid())
	os.Setenv(OwnerEnv, v)
	return OwnerEnv + "=" + v
}

// OwnedBy narrows match to processes whose environment holds entry (see
// MarkOwnProcesses). A process whose environment cannot be read does not
// match.
func OwnedBy(entry string, match func(cmdline []byte) bool) func(pid int, cmdline []byte) bool {
	return func(pid int, cmdline []byte) bool {
		if !match(cmdline) {
			return false
		}
		environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err != nil {
			return false
		}
		for e := range bytes.SplitSeq(environ, []byte{0}) {
			if string(e) == entry {
				return true
			}
		}
		return false
	}
}

// Processes lists live (not zombie) processes other than this one whose
// command line matches, as "pid argv...".
func Processes(match func(cmdline []byte) bool) []string {
	return processes(func(_ int, cmdline []byte) bool { return match(cmdline) })
}

// OwnProcesses lists live processes other than this one that match (see
// OwnedBy), as "pid argv...".
func OwnProcesses(match func(pid int, cmdline []byte) bool) []string {
	return processes(match)
}

func processes(match func(pid int, cmdline []byte) bool) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !match(pid, cmdline) {
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
	assertNone(t, func() []string { return Processes(match) }, wait)
}

// AssertNoOwnProcesses is AssertNoProcesses for a matcher of OwnedBy.
func AssertNoOwnProcesses(t testing.TB, match func(pid int, cmdline []byte) bool, wait time.Duration) {
	t.Helper()
	assertNone(t, func() []string { return OwnProcesses(match) }, wait)
}

func assertNone(t testing.TB, list func() []string, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left := list()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ReadCSV reads a CSV file whole, header first; an unreadable, malformed or
// empty file fails the test.
func ReadCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v (%d rows)", path, err, len(rows))
	}
	return rows
}
