package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/runexp/runexp/internal/compare"
	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/report"
)

// ErrRegressed is returned by `runexp compare` when a metric regressed
// beyond the threshold: exit status 1, so the command gates a CI job.
var ErrRegressed = errors.New("regressed")

type metricFlags []compare.Metric

func (m *metricFlags) String() string { return "" }
func (m *metricFlags) Set(v string) error {
	metric, err := compare.ParseMetric(v)
	if err != nil {
		return err
	}
	*m = append(*m, metric)
	return nil
}

// cmdCompare is `runexp compare BASE NEW`: exit 0 when nothing regressed
// beyond the threshold, 1 when something did, 2 on usage errors.
func cmdCompare(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("runexp compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var metrics metricFlags
	fs.Var(&metrics, "metric", "NAME[:higher|lower] to compare (repeatable; default: throughput, TTFT/TPOT/ITL/e2e latencies, KV tokens, max concurrency, device memory)")
	threshold := fs.String("threshold", "5%", "change beyond which a metric counts as regressed or improved")
	format := fs.String("format", "text", "output: "+strings.Join(compare.Formats, ", "))
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: runexp compare BASE_RUN_DIR NEW_RUN_DIR [--metric NAME[:higher|lower]]... [--threshold 5%] [--format text|markdown|json]")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return parseFlagsError(err)
	}
	if len(rest) != 2 {
		fs.Usage()
		return exitcode.Reported(exitcode.UsageError(fmt.Errorf("want BASE and NEW run folders, got %d arguments", len(rest))))
	}
	if !slices.Contains(compare.Formats, *format) {
		return exitcode.UsageError(fmt.Errorf("--format %q: want one of %s", *format, strings.Join(compare.Formats, ", ")))
	}
	opt := compare.Options{Metrics: metrics}
	if opt.Threshold, err = parseThreshold(*threshold); err != nil {
		return err
	}
	var runs [2]*report.Run
	for i, dir := range rest {
		if err := checkRunDir(dir); err != nil {
			return err
		}
		if runs[i], err = report.Load(dir); err != nil {
			return err
		}
	}
	res := compare.Compare(runs[0].ComparePoints(), runs[1].ComparePoints(), opt)
	if err := res.Write(stdout, *format, rest[0], rest[1]); err != nil {
		return err
	}
	if res.Regressed() {
		// The output says what regressed; the error is for the exit status.
		return exitcode.Reported(fmt.Errorf("%w: %s", ErrRegressed, strings.Join(res.RegressedMetrics(), ", ")))
	}
	return nil
}

func parseThreshold(s string) (float64, error) {
	v, err := compare.ParseThreshold(s)
	if err != nil {
		return 0, exitcode.UsageError(fmt.Errorf("--threshold: %w", err))
	}
	return v, nil
}
