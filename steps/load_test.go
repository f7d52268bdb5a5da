package steps

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load/loadtest"
)

func newLoadStep(url string, modes ...LoadMode) *Load {
	l := newLoad().(*Load)
	l.SetID("load")
	l.URL = url
	l.Model = "m"
	l.MaxTokens = 4
	l.Modes = modes
	return l
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSONL line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestLoadTwoModes(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{ITL: time.Millisecond})
	defer srv.Close()
	env := newTestEnv(t)
	l := newLoadStep(srv.URL+"/",
		LoadMode{Kind: "sequential", Requests: 3},
		LoadMode{Name: "burst", Kind: "concurrent", Requests: 6, Concurrency: 3})
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests(); n != 9 {
		t.Errorf("server saw %d requests", n)
	}
	for mode, n := range map[string]int{"sequential": 3, "burst": 6} {
		if v := mustValue(t, env, mode+"_completed"); v != n {
			t.Errorf("%s_completed %v, want %d", mode, v, n)
		}
		if v := mustValue(t, env, mode+"_failed"); v != 0 {
			t.Errorf("%s_failed %v", mode, v)
		}
		if d := mustValue(t, env, mode+"_s").(float64); d <= 0 {
			t.Errorf("%s_s %v", mode, d)
		}
		if tp := mustValue(t, env, mode+"_output_throughput").(float64); tp <= 0 {
			t.Errorf("%s_output_throughput %v", mode, tp)
		}
		for _, k := range []string{"request_throughput", "mean_ttft_ms", "p99_ttft_ms", "mean_e2el_ms", "max_concurrent_requests"} {
			mustValue(t, env, mode+"_"+k)
		}
	}
	if c := mustValue(t, env, "sequential_max_concurrent_requests"); c != 1 {
		t.Errorf("sequential_max_concurrent_requests %v", c)
	}
	if _, ok := env.Value("concurrent_completed"); ok {
		t.Error("a named mode was recorded under its kind")
	}

	tabs := env.Tables()
	sum := tabs["load.summary"]
	if len(sum) != 2 {
		t.Fatalf("load.summary has %d rows", len(sum))
	}
	for i, mode := range []string{"sequential", "burst"} {
		if m, _ := sum[i].Get("mode"); m != mode {
			t.Errorf("summary row %d mode %v", i, m)
		}
		if !slices.IsSorted(sum[i].Keys()) {
			t.Errorf("summary row keys not sorted: %v", sum[i].Keys())
		}
		if c, _ := sum[i].Get("completed"); c == nil {
			t.Errorf("summary row %d lacks completed", i)
		}
	}
	reqs := tabs["load.requests"]
	if len(reqs) != 9 {
		t.Fatalf("load.requests has %d rows", len(reqs))
	}
	if got := reqs[0].Keys(); strings.Join(got, ",") != "mode,index,ttft_ms,e2el_ms,completion_tokens,finish_reason,error_class" {
		t.Errorf("request row keys %v", got)
	}
	lines := readJSONL(t, filepath.Join(env.PointDir, "requests.jsonl"))
	if len(lines) != 9 {
		t.Fatalf("requests.jsonl has %d lines", len(lines))
	}
	modes := map[any]int{}
	for _, l := range lines {
		modes[l["mode"]]++
		if l["error_class"] != "" || l["completion_tokens"] != 4.0 {
			t.Errorf("request %v", l)
		}
	}
	if modes["sequential"] != 3 || modes["burst"] != 6 {
		t.Errorf("modes in requests.jsonl %v", modes)
	}
}

func TestLoadErrorThreshold(t *testing.T) {
	for _, c := range []struct {
		threshold float64
		want      string
	}{
		{0, "mode sequential: 2 of 4 requests failed (http_5xx: 2) (error_threshold 0)"},
		{0.25, "mode sequential: 2 of 4 requests failed (http_5xx: 2) (error_threshold 0.25)"},
		{0.5, ""}, // 2 of 4 is not above 0.5
	} {
		srv := loadtest.NewServer(loadtest.Script{Status: loadtest.Burst(503, 1, 2)})
		env := newTestEnv(t)
		l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 4})
		l.ErrorThreshold = c.threshold
		err := runWithTimeout(l, env, 30*time.Second)
		srv.Close()
		if c.want == "" {
			if err != nil {
				t.Errorf("threshold %v: %v", c.threshold, err)
			}
		} else if err == nil || err.Error() != c.want {
			t.Errorf("threshold %v: error %v, want %q", c.threshold, err, c.want)
		}
		// Results are recorded whether or not the threshold was exceeded.
		if v := mustValue(t, env, "sequential_failed"); v != 2 {
			t.Errorf("sequential_failed %v", v)
		}
		if n := len(readJSONL(t, filepath.Join(env.PointDir, "requests.jsonl"))); n != 4 {
			t.Errorf("%d request lines", n)
		}
	}
}

func TestLoadAPIKey(t *testing.T) {
	const secret = "sk-test-0123456789-SECRET"
	t.Setenv("RUNEXP_STEPS_TEST_API_KEY", secret)
	// The server echoes the Authorization header into its error bodies.
	srv := loadtest.NewServer(loadtest.Script{Status: loadtest.Burst(401, 0, 2), EchoAuth: true})
	defer srv.Close()
	env := newTestEnv(t)
	var logBuf bytes.Buffer
	env.Log = &logBuf
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 3})
	l.APIKeyEnv = "RUNEXP_STEPS_TEST_API_KEY"
	l.ErrorThreshold = 1
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, h := srv.Last(); h.Get("Authorization") != "Bearer "+secret {
		t.Fatalf("server got Authorization %q", h.Get("Authorization"))
	}
	jsonl, _ := os.ReadFile(filepath.Join(env.PointDir, "requests.jsonl"))
	if !bytes.Contains(jsonl, []byte("bad credentials")) {
		t.Fatalf("the echoed error body is not in requests.jsonl, the test proves nothing:\n%s", jsonl)
	}
	vals, _ := json.Marshal(env.Values())
	tabs, _ := json.Marshal(env.Tables())
	stepJSON, _ := json.Marshal(l)
	for what, b := range map[string][]byte{"requests.jsonl": jsonl, "values": vals, "tables": tabs, "log": logBuf.Bytes(), "step config": stepJSON} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the API key appears in %s", what)
		}
	}
}

func TestLoadAPIKeyEnvMissing(t *testing.T) {
	const name = "RUNEXP_STEPS_TEST_UNSET_KEY"
	t.Setenv(name, "x")
	os.Unsetenv(name) // t.Setenv restores the original state afterwards
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	env := newTestEnv(t)
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 1})
	l.APIKeyEnv = name
	err := runWithTimeout(l, env, 10*time.Second)
	if err == nil || err.Error() != "api_key_env: environment variable "+name+" is not set" {
		t.Errorf("err %v", err)
	}
	if srv.Requests() != 0 {
		t.Error("requests were sent without the key")
	}
}

func TestLoadServerSelection(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	env := newTestEnv(t)
	l := newLoadStep("", LoadMode{Kind: "sequential", Requests: 1})
	if err := runWithTimeout(l, env, 10*time.Second); err == nil || !strings.Contains(err.Error(), "no server has been launched") {
		t.Errorf("no server: %v", err)
	}
	env.AddServer(&Server{ID: "noport"})
	if err := runWithTimeout(l, env, 10*time.Second); err == nil || !strings.Contains(err.Error(), "server noport declared no port; give load a url") {
		t.Errorf("no port: %v", err)
	}
	env.AddServer(&Server{ID: "api", URL: srv.URL})
	l.Server = "api"
	if err := runWithTimeout(l, env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if srv.Requests() != 1 {
		t.Errorf("server saw %d requests", srv.Requests())
	}
}

// prompt_file is relative to the spec's folder; extra fields and the chat
// API reach the server.
func TestLoadPromptFileChatExtra(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	env := newTestEnv(t)
	env.SpecDir = t.TempDir()
	os.WriteFile(filepath.Join(env.SpecDir, "prompts.txt"), []byte("first prompt here\nsecond prompt here\n"), 0o644)
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 2})
	l.API = "chat"
	l.Stream = false
	l.PromptFile = "prompts.txt"
	l.Extra = map[string]any{"temperature": 0.5, "ignore_eos": true}
	if err := runWithTimeout(l, env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	body, _ := srv.Last()
	var req map[string]any
	json.Unmarshal(body, &req)
	if req["temperature"] != 0.5 || req["ignore_eos"] != true || req["stream"] == true {
		t.Errorf("request body %s", body)
	}
	if msgs, _ := req["messages"].([]any); len(msgs) == 0 || !strings.Contains(string(body), "second prompt here") {
		t.Errorf("request body %s", body)
	}

	l.PromptFile = "missing.txt"
	if err := runWithTimeout(l, env, 10*time.Second); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing prompt file: %v", err)
	}
}

func TestLoadCancelled(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 50 * time.Millisecond})
	defer srv.Close()
	env := newTestEnv(t)
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := l.Run(ctx, env)
	if err == nil {
		t.Fatal("no error after cancellation")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
	// What finished before the deadline is still written and recorded.
	n := len(readJSONL(t, filepath.Join(env.PointDir, "requests.jsonl")))
	if n == 0 || n >= 1000 {
		t.Errorf("%d request lines after cancellation", n)
	}
	mustValue(t, env, "sequential_completed")
}

// metadata labels every summary and request row and the point's values,
// and may not shadow a name the step records.
func TestLoadMetadata(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	env := newTestEnv(t)
	l := newLoadStep(srv.URL, LoadMode{Kind: "sequential", Requests: 2})
	l.Metadata = map[string]string{"engine": "SIMULATED", "gpu": "H100"}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, env, "engine"); v != "SIMULATED" {
		t.Errorf("value engine = %v", v)
	}
	tabs := env.Tables()
	for _, table := range []string{"load.summary", "load.requests"} {
		if len(tabs[table]) == 0 {
			t.Fatalf("%s is empty", table)
		}
		for i, row := range tabs[table] {
			if e, _ := row.Get("engine"); e != "SIMULATED" {
				t.Errorf("%s row %d: engine %v", table, i, e)
			}
			if g, _ := row.Get("gpu"); g != "H100" {
				t.Errorf("%s row %d: gpu %v", table, i, g)
			}
		}
	}
	for _, name := range []string{"mode", "completed", "median_ttft_ms"} {
		l.Metadata = map[string]string{name: "x"}
		if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "records itself") {
			t.Errorf("metadata %s: %v, want a clash error", name, err)
		}
	}
}
