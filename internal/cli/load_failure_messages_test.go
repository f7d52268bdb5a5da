package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/runexp/runexp/internal/exitcode"
)

// A failed request's server message reaches the console (the first few
// distinct ones per class), not only the --requests-out file.
func TestLoadPrintsTheServersFailureMessages(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"object":"error","message":"The model `+"`x%d`"+` does not exist.","type":"NotFoundError","code":404}`, n.Add(1)-1)
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := runLoad([]string{"--url", srv.URL, "--model", "x", "--mode", "sequential", "--requests", "6"}, &out, &errOut)
	if code != exitcode.Failed {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	stderr := errOut.String()
	for i := range 3 {
		if want := fmt.Sprintf("http_4xx: HTTP 404: {\"object\":\"error\",\"message\":\"The model `x%d` does not exist.\"", i); !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %s:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "`x3`") {
		t.Errorf("more than 3 messages of one class:\n%s", stderr)
	}
}
