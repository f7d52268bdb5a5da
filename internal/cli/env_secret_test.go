package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A token passed through ${env.NAME} (into a launch's env and its command
// line) is shown as ${env.NAME} by plan, plan --json and in the run's
// plan.txt, plan.json and manifest.json, while the launched process gets the
// real value. A short environment value ("1") is not a secret and is shown
// as is, without touching other 1s.
func TestEnvValuesArePrintedAsReferencesWhileTheProcessGetsThem(t *testing.T) {
	const secret = "sk-test-Zq8dW2mK9pXv4LrT"
	t.Setenv("RUNEXP_TEST_SECRET", secret)
	t.Setenv("RUNEXP_TEST_SHORT", "1")
	path := writeSpec(t, `version: runexp/v1
name: secret
studies:
  - name: s
    steps:
      - id: server
        type: launch
        with:
          command: [sh, -c, 'printf %s "$$API_KEY" > got.txt; exec sleep 30', sh, "--api-key=${env.RUNEXP_TEST_SECRET}"]
          env: {API_KEY: "${env.RUNEXP_TEST_SECRET}", VERBOSE: "${env.RUNEXP_TEST_SHORT}"}
      - {id: pause, type: sleep, with: {duration: 300ms}}
      - {id: stop, type: teardown, always: true}
`)
	out := t.TempDir()
	code, text, stderr := run("plan", path, "--out", out)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	_, js, _ := run("plan", "--json", path, "--out", out)
	for name, s := range map[string]string{"plan": text, "plan --json": js} {
		if strings.Contains(s, secret) {
			t.Errorf("%s prints the secret:\n%s", name, s)
		}
		if !strings.Contains(s, "${env.RUNEXP_TEST_SECRET}") {
			t.Errorf("%s does not show ${env.RUNEXP_TEST_SECRET}:\n%s", name, s)
		}
		if strings.Contains(s, "${env.RUNEXP_TEST_SHORT}") {
			t.Errorf("%s hides a one-character value:\n%s", name, s)
		}
	}
	if code, stdout, stderr := run(path, "--out", out); code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	runs, _ := filepath.Glob(filepath.Join(out, "secret", runDirGlob))
	if len(runs) != 1 {
		t.Fatalf("run dirs %v", runs)
	}
	for _, name := range []string{"plan.txt", "plan.json", "manifest.json"} {
		data, err := os.ReadFile(filepath.Join(runs[0], name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds the secret:\n%s", name, data)
		}
	}
	got, err := os.ReadFile(filepath.Join(runs[0], "s", "000", "got.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != secret {
		t.Errorf("the launched process got API_KEY=%q, want the real value", got)
	}
}
