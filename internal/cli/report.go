package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/report"
)

// cmdReport is `runexp report RUN_DIR [-o FILE] [--baseline BASE_DIR]`: it
// re-renders a run folder's report.html (or FILE), with a comparison
// against BASE_DIR when given.
func cmdReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("runexp report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output file (default RUN_DIR/report.html)")
	baseline := fs.String("baseline", "", "a run folder to compare against (adds a comparison section)")
	threshold := fs.String("threshold", "5%", "change beyond which the comparison calls a metric regressed or improved")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: runexp report RUN_DIR [-o FILE] [--baseline BASE_DIR] [--threshold 5%]")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return parseFlagsError(err)
	}
	if len(rest) != 1 {
		fs.Usage()
		return exitcode.Reported(exitcode.UsageError(fmt.Errorf("want one run folder, got %d arguments", len(rest))))
	}
	dir := rest[0]
	if err := checkRunDir(dir); err != nil {
		return err
	}
	var opt report.Options
	if *baseline != "" {
		if err := checkRunDir(*baseline); err != nil {
			return err
		}
		base, err := report.Load(*baseline)
		if err != nil {
			return err
		}
		opt.Baseline = base
		if opt.Compare.Threshold, err = parseThreshold(*threshold); err != nil {
			return err
		}
	}
	if err := report.WriteFile(dir, *out, opt); err != nil {
		return err
	}
	written := *out
	if written == "" {
		written = filepath.Join(dir, report.FileName)
	}
	fmt.Fprintln(stdout, written)
	return nil
}

// checkRunDir tells a folder that is no run folder (a usage error) from one
// that cannot be read.
func checkRunDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return exitcode.UsageError(fmt.Errorf("%s is not a run folder (no manifest.json)", dir))
		}
		return err
	}
	return nil
}
