package runner

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/runexp/runexp/internal/report"
)

// LatestName is the symlink, next to a spec's run folders, to the newest
// run (runs/<name>/latest), so scripts and CI can name the last run.
const LatestName = "latest"

// linkLatest points runs/<name>/latest at runDir. It replaces the link
// atomically (a new link renamed over the old), so a reader never finds
// none; a failure costs only the convenience and is not reported.
func linkLatest(runDir string) {
	parent := filepath.Dir(runDir)
	tmp := filepath.Join(parent, fmt.Sprintf(".%s.%s.%d.tmp", LatestName, filepath.Base(runDir), os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(runDir), tmp); err != nil {
		return
	}
	if err := os.Rename(tmp, filepath.Join(parent, LatestName)); err != nil {
		os.Remove(tmp)
	}
}

// writeReport writes the run folder's report.html from what the folder
// holds: at the end of every run, interrupted and killed ones included.
func writeReport(runDir string) error {
	if err := report.WriteFile(runDir, "", report.Options{}); err != nil {
		return fmt.Errorf("%s: %w", report.FileName, err)
	}
	return nil
}
