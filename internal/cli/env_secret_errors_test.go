package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A failing step's message may quote its configuration: with a secret from
// ${env.NAME} in the argv, neither the console nor any file of the run
// (result.json, the journal, the manifest, the artifacts) holds the value.
// (The program is relative to the point folder, so only the point, not the
// preflight, finds it missing.)
func TestEnvValuesInFailureMessagesAreHiddenEverywhereTheRunWrites(t *testing.T) {
	const secret = "sk-test-Hv7pQ2nW8rLx5KdZ"
	t.Setenv("RUNEXP_TEST_SECRET", secret)
	path := writeSpec(t, `version: runexp/v1
name: secret-errors
studies:
  - name: s
    steps:
      - {id: call, type: exec, with: {command: ["./no-such-program-${env.RUNEXP_TEST_SECRET}"]}}
    artifacts:
      - {path: points.csv, format: csv, from: points}
`)
	out := t.TempDir()
	code, stdout, stderr := run(path, "--out", out)
	if code != 1 {
		t.Fatalf("run: exit %d, want 1 (the point fails)\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Errorf("the console shows the secret:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "${env.RUNEXP_TEST_SECRET}") {
		t.Errorf("the console does not name the reference:\n%s", stdout)
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds the secret:\n%s", p, data)
		}
		return nil
	})
}

// The preflight's messages hide environment values as the run's do.
func TestEnvValuesInPreflightMessagesAreHidden(t *testing.T) {
	const secret = "sk-test-Hv7pQ2nW8rLx5KdZ"
	t.Setenv("RUNEXP_TEST_SECRET", secret)
	path := writeSpec(t, `version: runexp/v1
name: secret-preflight
studies:
  - name: s
    steps:
      - {id: call, type: exec, with: {command: ["no-such-program-${env.RUNEXP_TEST_SECRET}"]}}
`)
	code, stdout, stderr := run(path, "--out", t.TempDir())
	if code != ExitUsage || !strings.Contains(stderr, "no-such-program-${env.RUNEXP_TEST_SECRET} not found on PATH") {
		t.Fatalf("run: exit %d, want 2 from the preflight\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Errorf("the console shows the secret:\n%s%s", stdout, stderr)
	}
}
