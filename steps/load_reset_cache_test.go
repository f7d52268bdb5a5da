package steps

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// reset_cache asks the engine to drop its prefix cache before every mode
// after the first; an engine without the endpoint is noted once, not an
// error.
func TestLoadResetCacheResetsBeforeEachLaterModeAndNotesAnEngineWithout(t *testing.T) {
	srv := loadtest.NewServer(loadtest.Script{TTFT: time.Millisecond})
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var resets atomic.Int32
	vllm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reset_prefix_cache" && r.Method == http.MethodPost {
			resets.Add(1)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer vllm.Close()
	modes := []LoadMode{{Kind: load.KindConcurrent, Concurrency: 1, Requests: 2}, {Kind: load.KindConcurrent, Concurrency: 2, Requests: 2, Name: "b"},
		{Kind: load.KindSequential, Requests: 1}}

	env := newTestEnv(t)
	l := newLoadStep(vllm.URL, modes...)
	l.ResetCache = true
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := resets.Load(); n != 2 {
		t.Errorf("%d resets, want one before each of the 2 later modes", n)
	}

	env = newTestEnv(t)
	var log strings.Builder
	env.Log = &log
	l = newLoadStep(srv.URL, modes...)
	l.ResetCache = true
	if err := runWithTimeout(l, env, 30*time.Second); err != nil {
		t.Fatalf("an engine without /reset_prefix_cache must not fail the step: %v", err)
	}
	if strings.Count(log.String(), "no /reset_prefix_cache") != 1 {
		t.Errorf("want one note, log:\n%s", log.String())
	}
}
