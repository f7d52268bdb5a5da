package runner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/runexp/runexp/spec"
)

// A chart's series: names columns like x and y do, so a misspelt one is
// reported at its key with the closest recorded name.
func TestValidateReportsAChartSeriesNoStepRecordsAtItsKey(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: series
studies:
  - name: s
    sweep: {axes: {util: [0.8, 0.9], conc: [1, 4]}}
    steps:
      - {id: probe, type: exec, with: {command: ["true"]}}
    artifacts:
      - path: chart.svg
        format: chart
        chart: {x: conc, y: [probe_exit], series: [utl], labels: {probe_exit: "exit status"}}
`)
	_, err := compileFile(path)
	var list spec.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one positioned problem, got %v", err)
	}
	if e := list[0]; e.Path != "studies[0].artifacts[0].chart.series[0]" || !strings.Contains(e.Msg, `did you mean "util"`) {
		t.Errorf("problem %v, want at chart.series[0] suggesting util", e)
	}
}
