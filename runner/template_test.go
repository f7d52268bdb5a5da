package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

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
