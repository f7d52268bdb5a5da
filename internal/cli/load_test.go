package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// runLoad is `runexp load args...` through the front door.
func runLoad(args []string, stdout, stderr io.Writer) int {
	return Main(append([]string{"load"}, args...), stdout, stderr)
}

// load runs its modes and prints a table (or JSON); a mode above its error
// threshold exits 1; missing --url or --model, an unknown mode, a bad flag
// or an empty --api-key-env variable exit 2.
func TestLoadExitCodesAndOutput(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 2 * time.Millisecond})
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := runLoad([]string{"--url", srv.URL, "--model", "m", "--mode", "sequential,concurrent",
		"--requests", "8", "--concurrency", "4", "--max-tokens", "4", "--stream", "--extra", "ignore_eos=true", "--extra", "seed=3"}, &out, &errOut)
	if code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"sequential", "concurrent", "median_ttft_ms", "request_throughput", "length=8"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	body, _ := srv.Last()
	if !strings.Contains(string(body), `"ignore_eos":true`) || !strings.Contains(string(body), `"seed":3`) {
		t.Errorf("extra not passed: %s", body)
	}

	out.Reset()
	code = runLoad([]string{"--url", srv.URL, "--model", "m", "--json", "--requests", "3", "--mode", "rate", "--rate", "100", "--arrival", "poisson"}, &out, &errOut)
	var sums []load.Summary
	if err := json.Unmarshal(out.Bytes(), &sums); err != nil || code != 0 || len(sums) != 1 || sums[0].Completed != 3 || sums[0].RequestRate != 100 {
		t.Fatalf("json: exit %d err %v: %s", code, err, out.String())
	}

	bad := loadtest.NewServer(loadtest.Script{Status: loadtest.Burst(500, 0, 1)})
	defer bad.Close()
	errOut.Reset()
	if code := runLoad([]string{"--url", bad.URL, "--model", "m", "--requests", "2"}, &out, &errOut); code != exitcode.Failed || !strings.Contains(errOut.String(), "http_5xx=1") {
		t.Fatalf("threshold: exit %d: %s", code, errOut.String())
	}
	for _, args := range [][]string{{"--model", "m"}, {"--url", srv.URL}, {"--url", srv.URL, "--model", "m", "--mode", "zigzag"}, {"--bogus"}, {"--url", srv.URL, "--model", "m", "--api-key-env", "NO_SUCH_VAR_XYZ"}} {
		if code := runLoad(args, &out, &errOut); code != exitcode.Usage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// The API key comes from the environment (--api-key-env) and appears
// nowhere in load's output, its stderr or the --requests-out file, even when
// the server echoes it in an error body.
func TestLoadNeverPrintsTheAPIKey(t *testing.T) {
	const key = "sk-TOPSECRET-0123456789"
	srv := loadtest.NewServer(loadtest.Script{Status: loadtest.Burst(401, 0, 2), EchoAuth: true})
	defer srv.Close()
	t.Setenv("TEST_LOAD_KEY", key)
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	code := runLoad([]string{"--url", srv.URL, "--model", "m", "--mode", "sequential",
		"--requests", "2", "--stream", "--api-key-env", "TEST_LOAD_KEY", "--requests-out", filepath.Join(dir, "r.jsonl")}, &out, &errOut)
	jl, _ := os.ReadFile(filepath.Join(dir, "r.jsonl"))
	if code != exitcode.OK && code != exitcode.Failed {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, s := range []string{out.String(), errOut.String(), string(jl)} {
		if strings.Contains(s, "TOPSECRET") {
			t.Fatalf("key leaked by the CLI:\n%s", s)
		}
	}
}
