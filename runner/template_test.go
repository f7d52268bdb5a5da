package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runexp/runexp/spec"
)

// readTemplate reads only files inside the spec's folder: no ../ path,
// absolute path or symlink leads out of it.
func TestTemplateReadStaysInsideTheSpecFolder(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o644)
	specDir := t.TempDir()
	os.MkdirAll(filepath.Join(specDir, "tmpl"), 0o755)
	os.WriteFile(filepath.Join(specDir, "tmpl", "ok.md.tmpl"), []byte("ok"), 0o644)
	os.Symlink(secret, filepath.Join(specDir, "link.md.tmpl"))
	os.Symlink(outside, filepath.Join(specDir, "linkdir"))

	if b, err := readTemplate(specDir, "tmpl/ok.md.tmpl"); err != nil || string(b) != "ok" {
		t.Fatalf("a template in a subfolder: %q, %v", b, err)
	}
	for _, name := range []string{"../x/secret.txt", secret, "link.md.tmpl", "linkdir/secret.txt"} {
		if b, err := readTemplate(specDir, name); err == nil {
			t.Errorf("readTemplate(%q) read %q from outside the spec's folder", name, b)
		}
	}
	if _, err := readTemplate(specDir, "../x"); !errors.Is(err, errTemplateOutside) {
		t.Errorf("a ../ path: %v, want errTemplateOutside", err)
	}
}

// Every experiment's Markdown template must render when nothing succeeded
// (the point failed before its load step, or the run was interrupted before
// the point began): a failed run still gets its notes, saying so, instead of
// an "error: artifact ..." and no file.
func TestExperimentTemplatesRenderWithoutResults(t *testing.T) {
	tmpls, err := filepath.Glob("../experiments/*.tmpl")
	if err != nil || len(tmpls) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	failed := &PointResult{ID: "000", Status: "failed", Phase: "ready", Error: "server exited before it was ready (server: exit status 1)"}
	for _, path := range tmpls {
		for name, points := range map[string][]*PointResult{"no points": nil, "one failed point": {failed}} {
			t.Run(filepath.Base(path)+"/"+name, func(t *testing.T) {
				p := &Plan{Experiment: "x", SpecDir: "../experiments",
					Vars: []NamedValue{{"engine", "sim"}, {"model", "m"}, {"gpu_memory_utilization", 0.92}}}
				s := &StudyPlan{Name: "s"}
				a := spec.Artifact{Path: "notes.md", Format: "markdown", Template: filepath.Base(path)}
				out, err := encodeArtifact(p, s, a, resultPoints(s, points))
				if err != nil {
					t.Fatalf("render: %v", err)
				}
				if len(strings.TrimSpace(string(out))) == 0 {
					t.Fatal("empty notes")
				}
				if points != nil && !strings.Contains(string(out), "exit status 1") && !strings.Contains(string(out), "error") {
					t.Errorf("notes do not say why the point failed:\n%s", out)
				}
			})
		}
	}
}
