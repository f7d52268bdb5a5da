package testutil

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

// update is -update of every test binary that imports testutil: golden
// files are rewritten instead of compared.
var update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// Golden compares got with the file at path, or rewrites the file when the
// test runs with -update.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
