package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

func cfgFor(url string, stream bool, modes ...load.Mode) load.Config {
	return load.Config{BaseURL: url, Model: "m", Stream: stream, MaxTokens: 8, RequestTimeout: 10 * time.Second, Modes: modes}
}

func run(t *testing.T, cfg load.Config) ([]load.Summary, []load.RequestResult) {
	t.Helper()
	var mu sync.Mutex
	var rs []load.RequestResult
	sums, err := load.Run(context.Background(), cfg, func(r load.RequestResult) {
		mu.Lock()
		rs = append(rs, r)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sums, rs
}

func TestHappyPaths(t *testing.T) {
	for _, api := range []load.API{load.APICompletions, load.APIChat} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", api, stream), func(t *testing.T) {
				t.Parallel()
				srv := loadtest.NewServer(loadtest.Script{})
				defer srv.Close()
				cfg := cfgFor(srv.URL, stream, load.Mode{Kind: load.KindConcurrent, Requests: 10, Concurrency: 3})
				cfg.API = api
				cfg.Extra = map[string]any{"ignore_eos": true, "temperature": 0}
				cfg.APIKey = "sk-secret"
				sums, rs := run(t, cfg)
				s := sums[0]
				if s.Completed != 10 || s.Failed != 0 || len(rs) != 10 {
					t.Fatalf("completed %d failed %d results %d: %v", s.Completed, s.Failed, len(rs), s.ErrorsByClass)
				}
				if s.TotalOutputTokens != 80 || s.TotalInputTokens != 70 || s.TokensSource != load.TokensUsage || s.FinishReasons["length"] != 10 {
					t.Fatalf("tokens %d/%d source %q finish %v", s.TotalInputTokens, s.TotalOutputTokens, s.TokensSource, s.FinishReasons)
				}
				if stream && (s.NTTFT != 10 || s.NITL != 70 || s.NTPOT != 10) {
					t.Fatalf("n ttft/itl/tpot %d/%d/%d", s.NTTFT, s.NITL, s.NTPOT)
				}
				if !stream && (s.NTTFT != 0 || s.NE2EL != 10) {
					t.Fatalf("non-stream n ttft %d e2el %d", s.NTTFT, s.NE2EL)
				}
				body, hdr := srv.Last()
				var req map[string]any
				if err := json.Unmarshal(body, &req); err != nil {
					t.Fatal(err)
				}
				if req["model"] != "m" || req["max_tokens"] != 8.0 || req["ignore_eos"] != true || req["temperature"] != 0.0 {
					t.Errorf("body %s", body)
				}
				if stream != (req["stream"] == true) {
					t.Errorf("stream field: %s", body)
				}
				if so, _ := req["stream_options"].(map[string]any); stream && so["include_usage"] != true {
					t.Errorf("stream_options: %s", body)
				}
				if _, ok := req["messages"]; ok != (api == load.APIChat) {
					t.Errorf("messages: %s", body)
				}
				if got := hdr.Get("Authorization"); got != "Bearer sk-secret" {
					t.Errorf("Authorization %q", got)
				}
				if srv.MaxInFlight() > 3 {
					t.Errorf("server saw %d in flight, concurrency 3", srv.MaxInFlight())
				}
			})
		}
	}
}

// TestStreamCases covers the SSE quirks and failures, one scripted server
// each.
func TestStreamCases(t *testing.T) {
	tests := []struct {
		name   string
		script loadtest.Script
		cfg    func(*load.Config)
		class  string // expected error class of every request ("" = success)
		status int
		check  func(t *testing.T, s load.Summary, rs []load.RequestResult)
	}{
		{name: "no usage chunk", script: loadtest.Script{NoUsage: true}, check: func(t *testing.T, s load.Summary, rs []load.RequestResult) {
			if s.TokensSource != load.TokensChunks || s.TotalOutputTokens != 24 || rs[0].PromptTokens != 0 {
				t.Errorf("source %q tokens %d", s.TokensSource, s.TotalOutputTokens)
			}
		}},
		{name: "ollama zero usage in every chunk", script: loadtest.Script{OllamaUsage: true, SeparateFinish: true}, check: func(t *testing.T, s load.Summary, rs []load.RequestResult) {
			if s.TokensSource != load.TokensUsage || s.TotalOutputTokens != 24 || s.TotalInputTokens != 21 || s.FinishReasons["length"] != 3 {
				t.Errorf("source %q tokens %d/%d finish %v", s.TokensSource, s.TotalInputTokens, s.TotalOutputTokens, s.FinishReasons)
			}
			if s.NITL != 21 { // separate finish chunk has empty text: not a token
				t.Errorf("n_itl %d", s.NITL)
			}
		}},
		{name: "ollama chat", script: loadtest.Script{SeparateFinish: true}, cfg: func(c *load.Config) { c.API = load.APIChat }},
		{name: "split writes", script: loadtest.Script{SplitWrites: true, SplitDelay: time.Millisecond}},
		{name: "trickle", script: loadtest.Script{Trickle: true}},
		{name: "crlf no-space comments multi-line", script: loadtest.Script{CRLF: true, NoSpace: true, Comments: true, MultiLine: true}},
		{name: "bare CR line ends, empty data events", script: loadtest.Script{CR: true, EmptyEvents: true, SplitWrites: true, SplitDelay: time.Millisecond}},
		{name: "malformed chunk", script: loadtest.Script{MalformedAt: 3}, class: load.ClassMalformedSSE, status: 200},
		{name: "disconnect mid-stream", script: loadtest.Script{DisconnectAfter: 2}, class: load.ClassReset, status: 200},
		{name: "missing done", script: loadtest.Script{NoDone: true}, class: load.ClassNoDone, status: 200},
		{name: "error event", script: loadtest.Script{ErrorEventAt: 2}, class: load.ClassOther, status: 200},
		{name: "429 burst", script: loadtest.Script{Status: loadtest.Burst(429, 0, 100)}, class: load.ClassHTTP4xx, status: 429},
		{name: "500 burst", script: loadtest.Script{Status: loadtest.Burst(500, 0, 100)}, class: load.ClassHTTP5xx, status: 500},
		{name: "timeout", script: loadtest.Script{TTFT: 2 * time.Second}, cfg: func(c *load.Config) { c.RequestTimeout = 100 * time.Millisecond }, class: load.ClassTimeout, check: func(t *testing.T, s load.Summary, rs []load.RequestResult) {
			if e := rs[0].E2ELms; e < 100 || e > 500 {
				t.Errorf("timed out after %vms, timeout 100ms", e)
			}
		}},
		{name: "finish stop", script: loadtest.Script{Tokens: 3}, check: func(t *testing.T, s load.Summary, rs []load.RequestResult) {
			if s.FinishReasons["stop"] != 3 || s.TotalOutputTokens != 9 {
				t.Errorf("finish %v tokens %d", s.FinishReasons, s.TotalOutputTokens)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := loadtest.NewServer(tc.script)
			defer srv.Close()
			cfg := cfgFor(srv.URL, true, load.Mode{Kind: load.KindSequential, Requests: 3})
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			sums, rs := run(t, cfg)
			s := sums[0]
			if tc.class == "" {
				if s.Completed != 3 || s.Failed != 0 {
					t.Fatalf("completed %d failed %d %v: %q", s.Completed, s.Failed, s.ErrorsByClass, rs[0].Error)
				}
				if s.NTTFT != 3 {
					t.Errorf("n_ttft %d", s.NTTFT)
				}
			} else {
				if s.Failed != 3 || s.ErrorsByClass[tc.class] != 3 || !s.ThresholdExceeded {
					t.Fatalf("failed %d by class %v (want 3 %s), first error %q", s.Failed, s.ErrorsByClass, tc.class, rs[0].Error)
				}
				for _, r := range rs {
					if r.HTTPStatus != tc.status || r.Error == "" {
						t.Errorf("status %d (want %d) error %q", r.HTTPStatus, tc.status, r.Error)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, s, rs)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	sums, rs := run(t, cfgFor(url, true, load.Mode{Kind: load.KindSequential, Requests: 2}))
	if sums[0].ErrorsByClass[load.ClassRefused] != 2 {
		t.Fatalf("%v %q", sums[0].ErrorsByClass, rs[0].Error)
	}
}

func TestNonStreamErrors(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{Status: loadtest.Burst(503, 1, 2)})
	defer srv.Close()
	cfg := cfgFor(srv.URL, false, load.Mode{Kind: load.KindSequential, Requests: 10})
	cfg.ErrorThreshold = 0.2
	sums, rs := run(t, cfg)
	s := sums[0]
	if s.Completed != 8 || s.ErrorsByClass[load.ClassHTTP5xx] != 2 || s.ThresholdExceeded {
		t.Fatalf("%+v", s)
	}
	if rs[1].HTTPStatus != 503 || !strings.Contains(rs[1].Error, "scripted failure") {
		t.Fatalf("result %+v", rs[1])
	}
	srv2 := loadtest.NewServer(loadtest.Script{Status: loadtest.Burst(503, 1, 2)})
	defer srv2.Close()
	cfg.BaseURL, cfg.ErrorThreshold = srv2.URL, 0.1
	if sums, _ := run(t, cfg); !sums[0].ThresholdExceeded {
		t.Fatal("2/10 failed must exceed a 0.1 threshold")
	}
}

// TestTTFTAccuracy: a stub with TTFT 50ms and ITL 10ms is measured as such.
// The bound is relative to what the stub actually produced (its own
// first-token delay), so a busy shared machine delaying the stub does not
// fail the test; bench/compare.sh reports absolute accuracy.
func TestTTFTAccuracy(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 50 * time.Millisecond, ITL: 10 * time.Millisecond, Tokens: 6})
	defer srv.Close()
	cfg := cfgFor(srv.URL, true,
		load.Mode{Kind: load.KindSequential, Requests: 6},
		load.Mode{Kind: load.KindConcurrent, Requests: 32, Concurrency: 16})
	cfg.Warmup = 16 // open the connections first
	sums, _ := run(t, cfg)
	var server []float64
	for _, d := range srv.FirstTokenDelays() {
		server = append(server, float64(d)/1e6)
	}
	st := load.ComputeStats(server)
	t.Logf("client median TTFT %.2f/%.2f ms, server-side median %.2f ms (p90 %.2f)", sums[0].MedianTTFTms, sums[1].MedianTTFTms, st.Median, st.P90)
	tol := 2.0 // ms beyond the stub's own delay
	if raceEnabled {
		tol = 10
	}
	for _, s := range sums {
		if s.MedianTTFTms < 50 || s.MedianTTFTms > st.Median+tol {
			t.Errorf("%s: median TTFT %.2fms, want within [50, %.2f+%v] ms", s.Mode, s.MedianTTFTms, st.Median, tol)
		}
		if d := s.MedianITLms - 10; d < -tol || d > tol {
			t.Errorf("%s: median ITL %.2fms, want 10ms", s.Mode, s.MedianITLms)
		}
		if d := s.MedianTPOTms - 10; d < -tol || d > tol {
			t.Errorf("%s: median TPOT %.2fms, want 10ms", s.Mode, s.MedianTPOTms)
		}
	}
	if sums[1].MaxConcurrentRequests != 16 {
		t.Errorf("achieved concurrency %d, want 16", sums[1].MaxConcurrentRequests)
	}
}

func TestModesWarmupAndOrder(t *testing.T) {
	// 50 ms per request, so that the 8 concurrent requests overlap even when
	// the machine is too busy to start them within a few milliseconds.
	srv := loadtest.NewServer(loadtest.Script{TTFT: 50 * time.Millisecond})
	defer srv.Close()
	cfg := cfgFor(srv.URL, true,
		load.Mode{Kind: load.KindSequential, Requests: 4},
		load.Mode{Name: "burst", Kind: load.KindConcurrent, Requests: 8, Concurrency: 8})
	cfg.Warmup = 2
	var calls, concurrent atomic.Int32
	var busy atomic.Bool
	var seen []string
	sums, err := load.Run(context.Background(), cfg, func(r load.RequestResult) {
		if !busy.CompareAndSwap(false, true) {
			concurrent.Add(1)
		}
		calls.Add(1)
		seen = append(seen, r.Mode)
		time.Sleep(time.Millisecond)
		busy.Store(false)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0].Mode != "sequential" || sums[1].Mode != "burst" {
		t.Fatalf("modes %v", sums)
	}
	if calls.Load() != 12 || concurrent.Load() != 0 {
		t.Fatalf("onResult calls %d, concurrent calls %d", calls.Load(), concurrent.Load())
	}
	if seen[3] != "sequential" || seen[4] != "burst" {
		t.Fatalf("order %v", seen)
	}
	if got := srv.Requests(); got != 4+8+2*2 {
		t.Fatalf("server got %d requests, want 16 (warm-up included)", got)
	}
	if sums[0].MaxConcurrentRequests != 1 || sums[1].MaxConcurrentRequests != 8 {
		t.Fatalf("achieved %d, %d", sums[0].MaxConcurrentRequests, sums[1].MaxConcurrentRequests)
	}
}

func TestRateMode(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 150 * time.Millisecond})
	defer srv.Close()
	m := load.Mode{Kind: load.KindRate, Rate: 100, Requests: 40, MaxInFlight: 5, Arrival: load.ArrivalPoisson, Seed: 7}
	sums, rs := run(t, cfgFor(srv.URL, true, m))
	s := sums[0]
	if s.Dropped == 0 || s.Completed+s.Dropped != 40 || s.Failed != 0 {
		t.Fatalf("completed %d dropped %d failed %d", s.Completed, s.Dropped, s.Failed)
	}
	if srv.MaxInFlight() > 5 || s.MaxConcurrentRequests > 5 {
		t.Fatalf("in flight: server %d, achieved %d, cap 5", srv.MaxInFlight(), s.MaxConcurrentRequests)
	}
	sched := load.Schedule(m)
	slices.SortFunc(rs, func(a, b load.RequestResult) int { return a.Index - b.Index }) // onResult sees completion order
	t0 := rs[0].IntendedStart
	for i, r := range rs {
		if r.Index != i {
			t.Fatalf("results not ordered by index")
		}
		if got := r.IntendedStart.Sub(t0); got != sched[i] {
			t.Fatalf("request %d intended at %v, schedule says %v", i, got, sched[i])
		}
		if r.ErrorClass == load.ClassDropped && !r.Start.IsZero() {
			t.Fatal("dropped request has a start")
		}
	}
	if s.LagP99ms > 20 {
		t.Errorf("lag p99 %.2fms", s.LagP99ms)
	}
	if s.ThresholdExceeded {
		t.Error("drops are not failures")
	}
}

func TestRateDuration(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	sums, _ := run(t, cfgFor(srv.URL, false, load.Mode{Kind: load.KindRate, Rate: 50, Duration: 200 * time.Millisecond}))
	if sums[0].Completed != 10 {
		t.Fatalf("completed %d, want 10 (50/s for 200ms)", sums[0].Completed)
	}
}

func TestConcurrentDuration(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 20 * time.Millisecond})
	defer srv.Close()
	start := time.Now()
	sums, _ := run(t, cfgFor(srv.URL, false, load.Mode{Kind: load.KindConcurrent, Concurrency: 4, Duration: 200 * time.Millisecond}))
	if el := time.Since(start); el > time.Second || sums[0].Completed < 8 {
		t.Fatalf("took %v, completed %d", el, sums[0].Completed)
	}
}

func TestCancel(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: 50 * time.Millisecond})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	sums, err := load.Run(ctx, cfgFor(srv.URL, true,
		load.Mode{Kind: load.KindSequential, Requests: 100},
		load.Mode{Kind: load.KindSequential, Name: "never", Requests: 1}), nil)
	if err == nil || len(sums) != 1 {
		t.Fatalf("err %v, %d summaries", err, len(sums))
	}
	if sums[0].Completed < 1 || sums[0].Completed > 3 || sums[0].Canceled != 1 || sums[0].Failed != 0 || !sums[0].Interrupted {
		t.Fatalf("%d completed, %v", sums[0].Completed, sums[0].ErrorsByClass)
	}
}

// TestAPIKeyNeverLeaks: the key goes out as a Bearer header and nowhere
// else, even when the server echoes it in an error body.
func TestAPIKeyNeverLeaks(t *testing.T) {
	const key = "sk-TOPSECRET-0123456789"
	srv := loadtest.NewServer(loadtest.Script{Status: loadtest.Burst(401, 0, 2), EchoAuth: true})
	defer srv.Close()
	cfg := cfgFor(srv.URL, true, load.Mode{Kind: load.KindSequential, Requests: 3})
	cfg.APIKey = key
	sums, rs := run(t, cfg)
	if _, hdr := srv.Last(); hdr.Get("Authorization") != "Bearer "+key {
		t.Fatal("key not sent")
	}
	if sums[0].ErrorsByClass[load.ClassHTTP4xx] != 2 || !strings.Contains(rs[0].Error, "[REDACTED]") {
		t.Fatalf("%v %q", sums[0].ErrorsByClass, rs[0].Error)
	}
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(rs)
	json.NewEncoder(&buf).Encode(sums)
	json.NewEncoder(&buf).Encode(cfg)
	fmt.Fprintf(&buf, "%v %+v %#v %s", cfg, cfg, cfg, cfg)
	load.WriteTable(&buf, sums)
	if strings.Contains(buf.String(), key) || strings.Contains(buf.String(), "TOPSECRET") {
		t.Fatalf("key leaked:\n%s", buf.String())
	}
}

// The key is redacted before an error body is cut to its recorded length,
// so a key the server echoes across the cut is not recorded in part.
func TestAPIKeyRedactedAcrossTruncation(t *testing.T) {
	const key = "sk-live-0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		// 487 bytes of text, then the echoed header: the 512-byte cut falls
		// 20 bytes into the key.
		w.Write([]byte(strings.Repeat("x", 487) + " auth=" + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
	}))
	defer srv.Close()
	cfg := load.Config{BaseURL: srv.URL, Model: "m", APIKey: key, RequestTimeout: 5 * time.Second,
		ErrorThreshold: 1, Modes: []load.Mode{{Kind: load.KindSequential, Requests: 1}}}
	var rs []load.RequestResult
	if _, err := load.Run(context.Background(), cfg, func(r load.RequestResult) { rs = append(rs, r) }); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ErrorClass != load.ClassHTTP4xx {
		t.Fatalf("results %+v", rs)
	}
	if prefix := key[:16]; strings.Contains(rs[0].Error, prefix) {
		t.Errorf("recorded error holds the key prefix %q in clear: ...%s", prefix, rs[0].Error[len(rs[0].Error)-40:])
	}
}

func TestPrompts(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.txt")
	os.WriteFile(f, []byte("first prompt\n\n{\"prompt\": \"second \\\"quoted\\\"\"}\nthird\n"), 0o644)
	got, err := load.Prompts{File: f}.Load()
	if err != nil || len(got) != 3 || got[1] != `second "quoted"` || got[2] != "third" {
		t.Fatalf("%q %v", got, err)
	}
	os.WriteFile(f, []byte("{\"text\": 1}\n"), 0o644)
	if _, err := (load.Prompts{File: f}).Load(); err == nil || !strings.Contains(err.Error(), "p.txt:1") {
		t.Fatalf("bad JSONL: %v", err)
	}
	a := load.Synthetic(100, 3, 1)
	if b := load.Synthetic(100, 3, 1); strings.Join(a, "|") != strings.Join(b, "|") {
		t.Fatal("synthetic prompts not deterministic")
	}
	if n := len(strings.Fields(a[0])); n != 100 || a[0] == a[1] {
		t.Fatalf("%d words", n)
	}
	first := map[string]bool{}
	for _, p := range load.Synthetic(8, 64, 1) {
		first[strings.Fields(p)[0]] = true
	}
	if len(first) != 64 {
		t.Fatalf("64 synthetic prompts share first words (%d distinct): prefix caching could share them", len(first))
	}
	if p, _ := (load.Prompts{}).Load(); p[0] != load.DefaultPrompt {
		t.Fatal("default prompt")
	}

	// Request i uses prompt i mod len.
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	cfg := cfgFor(srv.URL, false, load.Mode{Kind: load.KindSequential, Requests: 3})
	cfg.Prompts = load.Prompts{List: []string{"a b", "c d e"}}
	sums, rs := run(t, cfg)
	if rs[0].PromptTokens != 2 || rs[1].PromptTokens != 3 || rs[2].PromptTokens != 2 || sums[0].TotalInputTokens != 7 {
		t.Fatalf("prompt tokens %d %d %d", rs[0].PromptTokens, rs[1].PromptTokens, rs[2].PromptTokens)
	}
}

func TestValidate(t *testing.T) {
	ok := load.Config{BaseURL: "http://h:1", Model: "m", Modes: []load.Mode{{Kind: "sequential", Requests: 1}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mut  func(*load.Config)
		want string
	}{
		{func(c *load.Config) { c.BaseURL = "" }, "base_url: required"},
		{func(c *load.Config) { c.BaseURL = "h:1" }, "not an http(s) URL"},
		{func(c *load.Config) { c.BaseURL = "http://h:1/v1" }, "must not end in /v1"},
		{func(c *load.Config) { c.API = "responses" }, "api:"},
		{func(c *load.Config) { c.Model = "" }, "model: required"},
		{func(c *load.Config) { c.Extra = map[string]any{"stream": false} }, `"stream" is set by the engine`},
		{func(c *load.Config) { c.Prompts = load.Prompts{Fixed: "a", File: "b"} }, "only one of"},
		{func(c *load.Config) { c.ErrorThreshold = 2 }, "error_threshold"},
		{func(c *load.Config) { c.Modes = nil }, "at least one mode"},
		{func(c *load.Config) { c.Modes = []load.Mode{{Kind: "burst"}} }, `modes[0].kind: "burst" is not one of`},
		{func(c *load.Config) { c.Modes = []load.Mode{{Kind: "concurrent", Requests: 1}} }, "modes[0].concurrency: 0 must be >= 1"},
		{func(c *load.Config) { c.Modes = []load.Mode{{Kind: "rate", Requests: 1}} }, "modes[0].rate: 0 must be > 0"},
		{func(c *load.Config) { c.Modes = []load.Mode{{Kind: "rate", Rate: 1}} }, "requests or duration"},
		{func(c *load.Config) { c.Modes = []load.Mode{{Kind: "rate", Rate: 1, Requests: 1, Arrival: "gamma"}} }, `modes[0].arrival: "gamma" is not one of`},
		{func(c *load.Config) { c.Modes = []load.Mode{{Kind: "sequential", Requests: 1, Rate: 3}} }, "modes[0].rate: applies to kind rate only"},
		{func(c *load.Config) {
			c.Modes = []load.Mode{{Kind: "sequential", Requests: 1}, {Kind: "sequential", Requests: 1}}
		}, "duplicate mode name"},
	}
	for _, tc := range tests {
		c := ok
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	// All problems at once.
	bad := load.Config{Modes: []load.Mode{{Kind: "x"}}}
	if err := bad.Validate(); strings.Count(err.Error(), "\n") < 2 {
		t.Errorf("want several errors, got %v", err)
	}
}

// OnModeStart comes after each mode's warm-up and before its first
// measured request, so telemetry windows exclude warm-up traffic.
func TestOnModeStartAfterWarmup(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{})
	defer srv.Close()
	cfg := cfgFor(srv.URL, true,
		load.Mode{Kind: load.KindSequential, Requests: 2},
		load.Mode{Name: "burst", Kind: load.KindConcurrent, Requests: 4, Concurrency: 4})
	cfg.Warmup = 3
	var got []string
	cfg.OnModeStart = func(mode string) {
		got = append(got, fmt.Sprintf("%s@%d", mode, srv.Requests()))
	}
	run(t, cfg)
	// sequential after 3 warm-ups; burst after 3 + 2 measured + 3 warm-ups.
	if want := "sequential@3 burst@8"; strings.Join(got, " ") != want {
		t.Fatalf("OnModeStart calls %q, want %q", strings.Join(got, " "), want)
	}
}

// No piece of 8 or more bytes of the key, as sent or JSON-escaped, reaches
// a recorded result, however the server echoes it: whole, broken over
// lines, or escaped inside a JSON error body.
func TestAPIKeyEchoedSplitOrEscapedIsNeverRecorded(t *testing.T) {
	const key = `sk-"quoted"\back<tag>-0123456789abcdefghij`
	echoes := map[string]func(k string) string{
		"split over lines": func(k string) string { return "key: " + k[:13] + "\n" + k[13:] },
		"split over CRLF":  func(k string) string { return k[:9] + "\r\n  " + k[9:] },
		"json escaped": func(k string) string {
			b, _ := json.Marshal(map[string]string{"error": "bad key " + k})
			return string(b)
		},
		"json escaped without html escaping": func(k string) string {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(map[string]string{"error": k})
			return b.String()
		},
		"twice": func(k string) string { return k + " and again " + k },
	}
	for name, echo := range echoes {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(echo(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))))
			}))
			defer srv.Close()
			cfg := load.Config{BaseURL: srv.URL, Model: "m", APIKey: key, RequestTimeout: 5 * time.Second,
				ErrorThreshold: 1, Modes: []load.Mode{{Kind: load.KindSequential, Requests: 1}}}
			var written bytes.Buffer
			enc := json.NewEncoder(&written) // as requests.jsonl is written
			if _, err := load.Run(context.Background(), cfg, func(r load.RequestResult) { enc.Encode(r) }); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(written.String(), "[REDACTED]") {
				t.Fatalf("nothing redacted: %s", written.String())
			}
			for _, form := range []string{key, mustJSONString(key, true), mustJSONString(key, false)} {
				for i := 0; i+8 <= len(form); i++ {
					if w := form[i : i+8]; strings.Contains(written.String(), w) {
						t.Fatalf("piece %q of the key written: %s", w, written.String())
					}
				}
			}
		})
	}
}

// mustJSONString is s as a JSON encoder writes it inside quotes.
func mustJSONString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	q := strings.TrimSpace(b.String())
	return q[1 : len(q)-1]
}
