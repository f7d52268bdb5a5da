package runner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/runexp/runexp/spec"
)

// A pareto chart's settings: name columns like x and y do, so a misspelt
// one is reported at its key with the closest recorded name.
func TestValidateReportsAParetoChartSettingNoStepRecordsAtItsKey(t *testing.T) {
	path := writeSpec(t, `version: runexp/v1
name: pareto
studies:
  - name: s
    sweep: {axes: {util: [0.8, 0.9], conc: [1, 4]}}
    steps:
      - {id: probe, type: exec, with: {command: ["true"]}}
    artifacts:
      - path: pareto.svg
        format: chart
        chart: {kind: pareto, x: conc, y: [probe_exit], settings: [utl, conc]}
`)
	_, err := compileFile(path)
	var list spec.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one positioned problem, got %v", err)
	}
	if e := list[0]; e.Path != "studies[0].artifacts[0].chart.settings[0]" || !strings.Contains(e.Msg, `did you mean "util"`) || e.Pos.Line != 11 {
		t.Errorf("problem %v at line %d, want at chart.settings[0] line 11 suggesting util", e, e.Pos.Line)
	}
}
