package runner_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/testutil"
)

// These tests run a real third-party server: Ollama, built from the Go
// module proxy by scripts/install-ollama.sh. .ci/run installs it and sets
// RUNEXP_OLLAMA_BIN; without it they are skipped.
func ollamaBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("RUNEXP_OLLAMA_BIN")
	if bin == "" {
		t.Skip("RUNEXP_OLLAMA_BIN is not set (BIN=$(scripts/install-ollama.sh) installs Ollama)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("RUNEXP_OLLAMA_BIN: %v", err)
	}
	return bin
}

// ollamaLeftovers lists live processes running the Ollama binary that this
// test binary started (another test or user may run the same binary).
func ollamaLeftovers(bin string) []string {
	return testutil.OwnProcesses(testutil.OwnedBy(ownProcesses, testutil.CmdlineStartsWith(bin)))
}

func assertNoOllama(t *testing.T, bin string) {
	t.Helper()
	testutil.AssertNoOwnProcesses(t, testutil.OwnedBy(ownProcesses, testutil.CmdlineStartsWith(bin)), 5*time.Second)
}

// The shipped ollama-cpu experiment on a real Ollama: host memory and the KV
// buffer grow with the context as the notes predict, and every load request
// completes with exactly max_tokens, counted from the server's usage.
func TestShippedOllamaCPURunsOnARealOllama(t *testing.T) {
	bin := ollamaBin(t)
	out := t.TempDir()
	start := time.Now()
	cmd := exec.Command(runexpBin, "../experiments/ollama-cpu.yaml", "--set", "ollama="+bin,
		"--set", fmt.Sprintf("port=%d", freePort(t)), "--out", out)
	output, err := cmd.CombinedOutput()
	t.Logf("ollama-cpu.yaml ran in %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("runexp: %v\n%s", err, output)
	}
	runs, _ := filepath.Glob(filepath.Join(out, "ollama-cpu", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run dirs %v", runs)
	}
	run := runs[0]

	ctx := readCSVMaps(t, filepath.Join(run, "context", "context_scaling.csv"))
	if len(ctx) != 5 {
		t.Fatalf("want 5 context points, got %d", len(ctx))
	}
	prevRSS, prevKV := 0.0, 0.0
	for i, r := range ctx {
		if r["status"] != "ok" {
			t.Fatalf("point %d: %v", i, r)
		}
		rss, _ := strconv.ParseFloat(r["host_rss_mb"].(string), 64)
		kv, _ := strconv.ParseFloat(r["kv_buffer_mib"].(string), 64)
		c, _ := strconv.ParseFloat(r["context"].(string), 64)
		if rss < prevRSS {
			t.Errorf("memory decreased with context: %v MiB at %v after %v", rss, c, prevRSS)
		}
		// KV bytes per token of the cpu-small shape: 8192, as the notes predict.
		if want := c * 8192 / (1 << 20); kv != want {
			t.Errorf("context %v: KV buffer %v MiB, want %v", c, kv, want)
		}
		if kv <= prevKV {
			t.Errorf("KV buffer did not grow: %v after %v", kv, prevKV)
		}
		prevRSS, prevKV = rss, kv
	}
	notes := readFile(t, filepath.Join(run, "context", "context_scaling_notes.md"))
	if !strings.Contains(notes, "measured, not simulated") || !strings.Contains(notes, ctx[4]["host_rss_mb"].(string)) {
		t.Errorf("notes:\n%s", notes)
	}

	reqs := readCSVMaps(t, filepath.Join(run, "batching", "requests.csv"))
	if len(reqs) != 2*2*16 {
		t.Errorf("want 64 requests, got %d", len(reqs))
	}
	for _, r := range reqs {
		if r["completion_tokens"] != "32" || r["finish_reason"] != "length" || r["error_class"] != "" {
			t.Errorf("request not exactly max_tokens: %v", r)
			break
		}
	}
	for _, s := range readCSVMaps(t, filepath.Join(run, "batching", "load_summary.csv")) {
		if s["completed"] != "16" || s["failed"] != "0" || s["tokens_source"] != "usage" {
			t.Errorf("summary %v %v: completed %v failed %v tokens from %v", s["parallel"], s["mode"], s["completed"], s["failed"], s["tokens_source"])
		}
	}
	if b := readFile(t, filepath.Join(run, "batching", "batching_benchmark.md")); !strings.Contains(b, "sequential_s = ") {
		t.Errorf("batching_benchmark.md:\n%s", b)
	}

	// The shared-prefix study: both modes complete with the prompt lengths
	// Ollama itself reports; the notes quote both TTFTs (what Ollama's slot
	// cache shows is reported, not assumed).
	prefix := readCSVMaps(t, filepath.Join(run, "prefix", "prefix_summary.csv"))
	if len(prefix) != 2 {
		t.Fatalf("prefix_summary.csv: %d rows, want shared-prefix and no-prefix", len(prefix))
	}
	notes = readFile(t, filepath.Join(run, "prefix", "prefix_notes.md"))
	for _, s := range prefix {
		if s["completed"] != "6" || s["failed"] != "0" || s["prompt_token_checks"] != "6" || s["prompt_token_mismatches"] != "0" {
			t.Errorf("mode %v: completed %v failed %v, %v of %v prompt lengths differ from Ollama's count", s["mode"], s["completed"], s["failed"],
				s["prompt_token_mismatches"], s["prompt_token_checks"])
		}
		v, _ := strconv.ParseFloat(s["median_ttft_ms"].(string), 64)
		// The notes write 2245.0 as 2245, as the template's f does.
		want := strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(v, 'f', 1, 64), "0"), ".")
		if !strings.Contains(notes, "| "+want+" |") {
			t.Errorf("prefix_notes.md does not quote %v's TTFT p50 %s:\n%s", s["mode"], want, notes)
		}
	}
	t.Logf("prefix_notes.md:\n%s", notes)
	assertNoOllama(t, bin)
}

// ollamaSpec launches Ollama, registers a tiny model and then either SIGKILLs
// the server behind runexp's back or sends long load, per the axis.
const ollamaSpec = `version: runexp/v1
name: ollama-teardown
vars: {ollama: %q, port: %d}
studies:
  - name: model
    steps:
      - {id: gguf, type: exec, with: {command: [runexp, gguf, --shape, tiny, --name, tiny, --out, "${run.dir}/model.gguf"]}}
  - name: s
    sweep:
      axes:
        case: [%s]
    steps:
      - id: server
        type: launch
        with:
          command: ["${ollama}", serve]
          port: ${port}
          env: {OLLAMA_HOST: "127.0.0.1:${port}", OLLAMA_MODELS: "${point.dir}/models", HOME: "${point.dir}/home", OLLAMA_NOPRUNE: "1", OLLAMA_NUM_PARALLEL: "2"}
      - {id: ready, type: wait-ready, needs: [server], with: {path: /, interval: 100ms}}
      - id: create
        type: exec
        needs: [ready]
        with: {command: [runexp, ollama-create, --url, "127.0.0.1:${port}", --gguf, "${run.dir}/model.gguf", --name, tiny, --models-dir, "${point.dir}/models", --param, num_thread=1, --load]}
      - id: kill
        type: exec
        needs: [create]
        with:
          shell: true
          # a loaded model means a runner child; SIGKILL only the server, orphaning it
          command: ['test ${case} != sigkill || { pgrep -f "^${ollama} runner" && pkill -KILL -f "^${ollama} serve$$" && sleep 0.5; }']
      - id: load
        type: load
        needs: [kill]
        with: {model: tiny, max_tokens: 64, modes: [{kind: concurrent, requests: 400, concurrency: 4}]}
      - {id: stop, type: teardown, needs: [server]}
`

// An Ollama server SIGKILLed behind runexp's back fails its point in the
// step during which it died (the watch on launched servers), and the runner
// child it orphaned is still stopped.
func TestOllamaSIGKILLedServerLeavesNoRunner(t *testing.T) {
	bin := ollamaBin(t)
	out := t.TempDir()
	path := writeSpec(t, fmt.Sprintf(ollamaSpec, bin, freePort(t), "sigkill"))
	cmd := exec.Command(runexpBin, path, "--out", out)
	output, err := cmd.CombinedOutput()
	// The server died during the kill step: the point fails there with the
	// server's exit, and the runner child that SIGKILL orphaned must still
	// be gone.
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d (%v), want 1\n%s", code, err, output)
	}
	results, _ := filepath.Glob(filepath.Join(out, "ollama-teardown", runDirGlob, "s", "*", "result.json"))
	if len(results) != 1 || !strings.Contains(readFile(t, results[0]), `"phase": "kill"`) ||
		!strings.Contains(readFile(t, results[0]), "server exited before its teardown") {
		t.Errorf("the point should fail in the step during which the server died:\n%s", output)
	}
	assertNoOllama(t, bin)
}

// Ctrl-C in the middle of a load takes down Ollama's runner children with
// the server, keeps the point's result, and exits 130.
func TestOllamaCtrlCMidLoad(t *testing.T) {
	bin := ollamaBin(t)
	out := t.TempDir()
	path := writeSpec(t, fmt.Sprintf(ollamaSpec, bin, freePort(t), "interrupt"))
	cmd, buf := startRunexp(t, path, "--out", out)
	waitForLine(t, buf, cmd, "load (load) ...")
	time.Sleep(700 * time.Millisecond)
	// Runner processes exist now; Ctrl-C must take them down with the server.
	if len(ollamaLeftovers(bin)) < 2 {
		t.Logf("expected serve + runner running mid-load, saw %v", ollamaLeftovers(bin))
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, buf.String())
	}
	results, _ := filepath.Glob(filepath.Join(out, "ollama-teardown", runDirGlob, "s", "*", "result.json"))
	if len(results) != 1 {
		t.Errorf("interrupted point's result.json: %v", results)
	}
	assertNoOllama(t, bin)
}
