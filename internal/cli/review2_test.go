package cli

import (
	"strings"
	"testing"
)

// TestReview2FlagsFirstWithTrailingFlag: flags of run may come before or
// after the file (parseInterleaved), and `runexp FILE [flags]` is `run`. Main
// only routes an invocation that starts with a flag to run when the *last*
// argument does not start with "-", so `runexp --out DIR FILE --set=d=20ms`
// (or `... FILE --json`) fails with "runexp: unknown flag --out" and exit 2,
// although --out and --set are run's flags.
func TestReview2FlagsFirstWithTrailingFlag(t *testing.T) {
	good := writeSpec(t, okSpec)
	out := t.TempDir()
	code, stdout, stderr := run("--out", out, good, "--set=d=20ms")
	if code != 0 || !strings.Contains(stdout, "1/1 points ok") {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%.300s", code, stdout, stderr)
	}
}
