package cli

import (
	"bytes"
	"strings"
	"testing"
)

// `runexp sim serve --help` prints the simulator's flags and exits 0; an
// unknown flag is reported in vLLM's words and exits 2.
func TestSimServeHelpExitsZeroAndBadFlagsExitTwo(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"sim", "serve", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--gpu GPU") ||
		!strings.Contains(out.String(), "microsoft/Phi-3-mini-4k-instruct") {
		t.Errorf("--help: code %d, out:\n%s", code, out.String())
	}
	if code := Main([]string{"sim", "serve", "m", "--bogus"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "runexp sim serve: error: unrecognized arguments: --bogus") {
		t.Errorf("bad flag: code %d, stderr %q", code, errb.String())
	}
}

// `runexp sim` without `serve` prints its usage and exits 2.
func TestSimWithoutServeIsAUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"sim"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: runexp sim serve") {
		t.Errorf("code %d, stderr %q", code, errb.String())
	}
}
