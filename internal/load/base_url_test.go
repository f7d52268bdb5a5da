package load_test

import (
	"testing"

	"github.com/runexp/runexp/internal/load"
)

// A server address as people type it becomes a base URL: a bare host:port
// gets http://, trailing slashes and a trailing /v1 go.
func TestNormalizeBaseURLAcceptsHostPortAndTrailingV1(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8000":            "http://127.0.0.1:8000",
		"127.0.0.1:8000/v1":         "http://127.0.0.1:8000",
		"http://127.0.0.1:8000/v1/": "http://127.0.0.1:8000",
		"https://h.example/api/v1":  "https://h.example/api",
		" http://127.0.0.1:8000// ": "http://127.0.0.1:8000",
		"http://127.0.0.1:8000/v10": "http://127.0.0.1:8000/v10",
		"":                          "",
	} {
		if got := load.NormalizeBaseURL(in); got != want {
			t.Errorf("NormalizeBaseURL(%q) = %q, want %q", in, got, want)
		}
		if in != "" {
			if err := (load.Config{BaseURL: load.NormalizeBaseURL(in), Model: "m",
				Modes: []load.Mode{{Kind: load.KindSequential, Requests: 1}}}).Validate(); err != nil {
				t.Errorf("%q: %v", in, err)
			}
		}
	}
}
