package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeSpec(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const okSpec = `version: runexp/v1
name: cli
vars: {d: 10ms}
studies:
  - name: s
    steps:
      - {type: sleep, with: {duration: "${d}"}}
`

func TestExitCodes(t *testing.T) {
	good := writeSpec(t, okSpec)
	failing := writeSpec(t, strings.Replace(okSpec, `{type: sleep, with: {duration: "${d}"}}`, `{type: exec, with: {command: ["false"]}}`, 1))
	typo := writeSpec(t, strings.Replace(okSpec, "steps:", "stpes:", 1))
	out := t.TempDir()
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no args", nil, 2, "Usage"},
		{"help", []string{"--help"}, 0, "Usage"},
		{"unknown command", []string{"vaildate"}, 2, `did you mean "validate"`},
		{"validate ok", []string{"validate", good}, 0, "ok (1 studies, 1 points)"},
		{"validate typo", []string{"validate", typo}, 2, `:6:5: studies[0].stpes: unknown field (did you mean "steps"?)`},
		{"validate several", []string{"validate", good, typo}, 2, "ok (1 studies"},
		{"plan", []string{"plan", good}, 0, "1. sleep [sleep]"},
		{"plan json", []string{"plan", "--json", good}, 0, `"experiment": "cli"`},
		{"set unknown var", []string{"plan", good, "--set", "dd=1s"}, 2, `--set dd: no such var (did you mean "d"?)`},
		{"set bad form", []string{"plan", good, "--set", "d"}, 2, "want NAME=VALUE"},
		{"two files", []string{"run", good, good}, 2, "exactly one spec file"},
		{"run ok", []string{good, "--out", out}, 0, "1/1 points ok"},
		{"run flags first", []string{"--out", out, good}, 0, "1/1 points ok"},
		{"run set", []string{"run", good, "--out", out, "--set", "d=20ms"}, 0, "1/1 points ok"},
		{"run failing point", []string{"run", failing, "--out", out}, 1, "0/1 points ok"},
		{"missing file", []string{"validate", filepath.Join(out, "nope.yaml")}, 2, "no such file"},
		{"steps", []string{"steps"}, 0, "wait-ready"},
		{"sim usage", []string{"sim"}, 2, "usage: runexp sim serve"},
		{"run -h", []string{"run", "-h"}, 0, "-set"},
		{"validate -h", []string{"validate", "-h"}, 0, "-set"},
		{"unknown flag first", []string{"--bogus", good}, 2, "-bogus"},
		{"gguf -h", []string{"gguf", "-h"}, 0, "usage: runexp gguf"},
		{"gguf bad flag", []string{"gguf", "--bogus"}, 2, "-bogus"},
		{"ollama-create -h", []string{"ollama-create", "-h"}, 0, "-gguf"},
		{"ollama-create without flags", []string{"ollama-create"}, 2, "usage: ollama-create --gguf FILE"},
		{"gguf extra argument", []string{"gguf", "extra"}, 2, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.contains) {
				t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", tc.contains, stdout, stderr)
			}
		})
	}
}

func TestSchemaIsJSON(t *testing.T) {
	code, stdout, _ := run("schema")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v["$schema"] == nil {
		t.Fatalf("schema: exit %d, %.200s", code, stdout)
	}
}

func TestStepsListsEveryKind(t *testing.T) {
	_, stdout, _ := run("steps")
	for _, k := range []string{"launch", "wait-ready", "measure", "load", "telemetry", "release-check", "teardown", "exec", "sleep"} {
		if !strings.Contains(stdout, k+" ") {
			t.Errorf("steps output lacks %s:\n%s", k, stdout)
		}
	}
}

// TestMain gives this package's simulated GPUs a folder of their own, so that
// the simulators other packages' tests start at the same time do not fill them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runexp-cli-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("RUNEXP_SIM_GPU_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
