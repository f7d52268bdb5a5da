package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// Ctrl-C during `runexp load`: the requests in flight are canceled, not
// failed, so no error threshold trips and no "context canceled" error is
// printed; the summary says the mode was interrupted; exit 130.
func TestLoadInterruptCancelsInFlightRequestsWithoutFailingThem(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 1500 * time.Millisecond}) // ends long after the interrupt
	defer srv.Close()
	go func() {
		for deadline := time.Now().Add(10 * time.Second); srv.Requests() < 4 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()
	var out, errOut bytes.Buffer
	code := runLoad([]string{"--url", srv.URL, "--model", "m", "--requests", "4", "--concurrency", "4", "--json"}, &out, &errOut)
	if code != exitcode.Interrupted {
		t.Fatalf("exit %d, want 130: %s", code, errOut.String())
	}
	for _, bad := range []string{"context canceled", "error threshold", "failed"} {
		if strings.Contains(errOut.String(), bad) {
			t.Errorf("stderr says %q:\n%s", bad, errOut.String())
		}
	}
	if !strings.Contains(errOut.String(), "interrupted during mode concurrent: 4 requests in flight were canceled") {
		t.Errorf("stderr does not say the mode was interrupted:\n%s", errOut.String())
	}
	var sums []load.Summary
	if err := json.Unmarshal(out.Bytes(), &sums); err != nil || len(sums) != 1 {
		t.Fatalf("%v: %s", err, out.String())
	}
	if s := sums[0]; !s.Interrupted || s.Canceled != 4 || s.Failed != 0 || s.ThresholdExceeded {
		t.Errorf("interrupted %v canceled %d failed %d threshold %v", s.Interrupted, s.Canceled, s.Failed, s.ThresholdExceeded)
	}
}
