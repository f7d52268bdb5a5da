package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
)

// Regression (found in review, fixed): The API key is redacted only after the error body has been cut to 512
// bytes (httpError) or 160 bytes (snippet), so a key the server echoes
// across the cut is recorded partly in clear text.
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
