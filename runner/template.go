package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runexp/runexp/spec"
)

// errTemplateOutside is why a template path is refused.
var errTemplateOutside = errors.New("must name a file inside the spec's folder")

// readTemplate reads a template named relative to the spec's folder,
// through an os.Root, so that neither "../" nor a symbolic link can make a
// spec read a file outside its own folder tree.
func readTemplate(specDir, name string) ([]byte, error) {
	if !spec.Confined(filepath.ToSlash(name)) {
		return nil, fmt.Errorf("template %q %w", name, errTemplateOutside)
	}
	f, err := os.OpenInRoot(specDir, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("template file %q not found next to the spec", name)
		}
		return nil, fmt.Errorf("template %q: %w", name, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}
