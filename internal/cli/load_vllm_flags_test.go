package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// runLoadJSON runs load with --json and returns its summaries.
func runLoadJSON(t *testing.T, args ...string) []load.Summary {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := runLoad(append(args, "--json"), &out, &errOut); code != exitcode.OK {
		t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
	}
	var sums []load.Summary
	if err := json.Unmarshal(out.Bytes(), &sums); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return sums
}

// vLLM's flags with vLLM's meaning: --base-url, --endpoint, --num-prompts,
// --metadata, --percentile-metrics and --metric-percentiles (on the console
// and in the file), and --save-result writing vLLM's file name and fields.
func TestLoadTakesVLLMBenchServeFlagsAndSavesItsResultFile(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 2 * time.Millisecond, ITL: time.Millisecond})
	defer srv.Close()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := runLoad([]string{"--base-url", srv.URL, "--endpoint", "/v1/chat/completions", "--model", "org/m",
		"--num-prompts", "5", "--max-tokens", "4", "--save-result", "--result-dir", dir, "--metadata", "engine=vllm",
		"--percentile-metrics", "ttft,e2el", "--metric-percentiles", "50,90,95,99"}, &out, &errOut)
	if code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if body, _ := srv.Last(); !strings.Contains(string(body), `"messages"`) || !strings.Contains(string(body), `"stream":true`) {
		t.Errorf("not a streamed chat request: %s", body)
	}
	for _, row := range []string{"p50_ttft_ms", "p95_ttft_ms", "p90_e2el_ms", "p99_e2el_ms"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("console lacks %s:\n%s", row, out.String())
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "openai-chat-infqps-m-*.json"))
	if len(files) != 1 {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("want one openai-chat-infqps-m-<date>.json, got %v", entries)
	}
	data, _ := os.ReadFile(files[0])
	var res map[string]any
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res["backend"] != "openai-chat" || res["model_id"] != "org/m" || res["num_prompts"] != 5.0 || res["engine"] != "vllm" ||
		res["completed"] != 5.0 || res["request_rate"] != "inf" || res["p95_ttft_ms"] == nil || res["p90_e2el_ms"] == nil {
		t.Errorf("result file:\n%s", data)
	}

	name := filepath.Join(dir, "r.json")
	if code := runLoad([]string{"--url", srv.URL, "--model", "m", "--num-prompts", "2", "--save-result", "--result-filename", name}, &out, &errOut); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if _, err := os.Stat(name); err != nil {
		t.Errorf("--result-filename: %v", err)
	}
}

// Streaming is the default, as in vLLM's bench; --no-stream turns it off and
// the statistics that need a stream print n/a.
func TestLoadStreamsByDefaultAndNoStreamPrintsNA(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	if s := runLoadJSON(t, "--url", srv.URL, "--model", "m", "--requests", "2")[0]; s.NTTFT != 2 {
		t.Errorf("default run measured %d TTFTs, want 2 (streamed)", s.NTTFT)
	}
	var out, errOut bytes.Buffer
	if code := runLoad([]string{"--url", srv.URL, "--model", "m", "--requests", "2", "--no-stream"}, &out, &errOut); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if body, _ := srv.Last(); strings.Contains(string(body), `"stream"`) {
		t.Errorf("--no-stream sent %s", body)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "_ttft_ms") && f[1] != "n/a" {
			t.Errorf("%s = %s without streaming, want n/a", f[0], f[1])
		}
	}
}

// --max-concurrency makes requests wait for a slot, as vLLM's semaphore
// does: with an infinite --request-rate it is a closed loop of that many;
// with a finite rate the open loop holds requests instead of dropping them.
func TestLoadMaxConcurrencyMakesRequestsWaitNotDrop(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 20 * time.Millisecond})
	defer srv.Close()
	s := runLoadJSON(t, "--url", srv.URL, "--model", "m", "--num-prompts", "6", "--max-concurrency", "2")[0]
	if s.Kind != "concurrent" || s.Completed != 6 || srv.MaxInFlight() > 2 {
		t.Errorf("inf rate: kind %s completed %d, server peak %d (cap 2)", s.Kind, s.Completed, srv.MaxInFlight())
	}

	slow := loadtest.NewServer(loadtest.Script{TTFT: 30 * time.Millisecond})
	defer slow.Close()
	s = runLoadJSON(t, "--url", slow.URL, "--model", "m", "--num-prompts", "5", "--request-rate", "500",
		"--burstiness", "0.5", "--max-concurrency", "1")[0]
	if s.Kind != "rate" || s.RequestRate != 500 || s.Completed != 5 || s.Dropped != 0 || slow.MaxInFlight() != 1 {
		t.Errorf("rate 500: kind %s rate %v completed %d dropped %d, server peak %d (cap 1)",
			s.Kind, s.RequestRate, s.Completed, s.Dropped, slow.MaxInFlight())
	}
}

// Bad vLLM-style flags are usage errors (exit 2) that say what is wrong.
func TestLoadRejectsBadVLLMFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--request-rate", "0"}, "request-rate"},
		{[]string{"--request-rate", "fast"}, "request-rate"},
		{[]string{"--endpoint", "/v1/embeddings"}, "--endpoint"},
		{[]string{"--endpoint", "/v1/completions", "--api", "chat"}, "contradicts"},
		{[]string{"--metric-percentiles", "50,101"}, "--metric-percentiles"},
		{[]string{"--percentile-metrics", "ttft,latency"}, "--percentile-metrics"},
		{[]string{"--metadata", "novalue"}, "KEY=VALUE"},
		{[]string{"--mode", "concurrent", "--request-rate", "5"}, "applies to a rate mode"},
		{[]string{"--request-rate", "5", "--arrival", "constant", "--burstiness", "2"}, "burstiness"},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"--url", "127.0.0.1:1", "--model", "m"}, tc.args...)
		if code := runLoad(args, &out, &errOut); code != exitcode.Usage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", tc.args, code, tc.want, errOut.String())
		}
	}
}

// --url takes host:port and a trailing /v1, as ollama-create does.
func TestLoadAcceptsHostPortAndTrailingV1(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	for _, u := range []string{hostPort, hostPort + "/v1", srv.URL + "/v1/"} {
		if s := runLoadJSON(t, "--url", u, "--model", "m", "--requests", "1")[0]; s.Completed != 1 {
			t.Errorf("--url %s: %d completed", u, s.Completed)
		}
	}
}
