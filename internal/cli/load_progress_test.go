package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// Off a terminal (CI logs) `runexp load` writes a plain progress line to
// stderr now and then; --no-progress turns it off.
func TestLoadWritesProgressLinesToALog(t *testing.T) {
	saved := progressEveryLine
	progressEveryLine = 20 * time.Millisecond
	t.Cleanup(func() { progressEveryLine = saved })
	srv := loadtest.NewServer(loadtest.Script{TTFT: 30 * time.Millisecond})
	defer srv.Close()
	args := []string{"--url", srv.URL, "--model", "m", "--mode", "sequential", "--requests", "5"}
	var out, errOut bytes.Buffer
	if code := runLoad(args, &out, &errOut); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "sequential: ") || !strings.Contains(errOut.String(), "/5 done") ||
		!strings.Contains(errOut.String(), "in flight") || strings.Contains(errOut.String(), "\r") {
		t.Errorf("no plain progress lines on stderr:\n%q", errOut.String())
	}
	errOut.Reset()
	if code := runLoad(append(args, "--no-progress"), &out, &errOut); code != exitcode.OK || strings.Contains(errOut.String(), "in flight") {
		t.Errorf("--no-progress: exit %d, stderr %q", code, errOut.String())
	}
}
