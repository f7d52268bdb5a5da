package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// linkOutside plants name in dir as a symbolic link to a file outside it
// and returns that file, which must stay untouched.
func linkOutside(t *testing.T, dir, name string) string {
	t.Helper()
	target := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return target
}

func assertUntouched(t *testing.T, target string) {
	t.Helper()
	if b, err := os.ReadFile(target); err != nil || string(b) != "precious\n" {
		t.Errorf("written through the link: %q, %v", b, err)
	}
}

// TestStartDoesNotWriteItsLogThroughALink: LogPath is opened with
// O_NOFOLLOW, so a link planted at the log's name fails the start.
func TestStartDoesNotWriteItsLogThroughALink(t *testing.T) {
	dir := t.TempDir()
	target := linkOutside(t, dir, "server.log")
	p, err := Start(Options{Argv: []string{"echo", "written"}, LogPath: filepath.Join(dir, "server.log")})
	if err == nil {
		p.Stop(context.Background())
		t.Fatal("Start wrote its log through a link")
	}
	if !errors.Is(err, syscall.ELOOP) {
		t.Errorf("error %v, want ELOOP", err)
	}
	assertUntouched(t, target)
}

// TestStartWritesToAGivenLogFile: Options.LogFile receives the server's
// output, for callers that open the log themselves (through an os.Root).
func TestStartWritesToAGivenLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "given.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(Options{Argv: []string{"echo", "to the given file"}, LogFile: f})
	f.Close() // the server holds its own copy
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 10*time.Second)
	p.Stop(context.Background())
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "to the given file") {
		t.Errorf("log holds %q", b)
	}
}

// TestLedgerIsNotAppendedThroughALink
func TestLedgerIsNotAppendedThroughALink(t *testing.T) {
	dir := t.TempDir()
	target := linkOutside(t, dir, LedgerName)
	if err := AppendLedger(filepath.Join(dir, LedgerName), LedgerEntry{PID: 1}); err == nil {
		t.Error("the ledger was appended through a link")
	}
	assertUntouched(t, target)
}
