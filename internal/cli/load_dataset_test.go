package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/sim"
	"github.com/runexp/runexp/internal/testutil"
)

// startSim serves the simulator in process on a free port until the test
// ends and returns its base URL.
func startSim(t *testing.T, args ...string) string {
	t.Helper()
	port := testutil.FreePort(t)
	o, err := sim.ParseArgs(append([]string{"microsoft/Phi-3-mini-4k-instruct", "--port", fmt.Sprint(port)}, args...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, o, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("simulator not ready in 30s")
		}
	}
}

// The issue's acceptance command: `runexp load --dataset-name random
// --random-input-len 256 --random-output-len 32 --num-prompts 16` against
// the simulator sends 16 requests whose prompt tokens, as the server
// reports them, are exactly 256, and says so in its summary.
func TestLoadRandomDatasetAgainstTheSimulatorSendsExactlyTheInputLength(t *testing.T) {
	url := startSim(t)
	out := filepath.Join(t.TempDir(), "requests.jsonl")
	var stdout, stderr bytes.Buffer
	code := runLoad([]string{"--base-url", url, "--model", "microsoft/Phi-3-mini-4k-instruct", "--dataset-name", "random",
		"--random-input-len", "256", "--random-output-len", "32", "--num-prompts", "16", "--requests-out", out, "--no-progress", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var r struct {
			PromptTokens   int    `json:"prompt_tokens"`
			Intended       int    `json:"intended_prompt_tokens"`
			ErrorClass     string `json:"error_class"`
			CompletionToks int    `json:"completion_tokens"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.ErrorClass != "" || r.PromptTokens != 256 || r.Intended != 256 {
			t.Errorf("request %d: server counted %d prompt tokens (intended %d, error %q); want 256", n, r.PromptTokens, r.Intended, r.ErrorClass)
		}
	}
	if n != 16 {
		t.Errorf("%d requests, want 16", n)
	}
	var sums []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &sums); err != nil || len(sums) != 1 {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	if sums[0]["prompt_token_mismatches"] != 0.0 || sums[0]["prompt_token_checks"] != 16.0 || sums[0]["total_input_tokens"] != 16*256.0 {
		t.Errorf("summary: mismatches %v of %v, input tokens %v", sums[0]["prompt_token_mismatches"], sums[0]["prompt_token_checks"], sums[0]["total_input_tokens"])
	}
	if !strings.Contains(stderr.String(), "token lengths counted by") {
		t.Errorf("stderr does not say how lengths were counted: %s", stderr.String())
	}
}

// A dataset's flags apply to their dataset only.
func TestLoadDatasetFlagOfAnotherDatasetIsAUsageError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runLoad([]string{"--url", "127.0.0.1:1", "--model", "m", "--dataset-name", "sharegpt", "--dataset-path", "x.json", "--random-input-len", "5"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--random-input-len applies to --dataset-name random") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	code = runLoad([]string{"--url", "127.0.0.1:1", "--model", "m", "--dataset-path", "x.json"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--dataset-path needs --dataset-name") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
