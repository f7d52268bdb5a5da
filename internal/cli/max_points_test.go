package cli

import (
	"strconv"
	"strings"
	"testing"
)

// validate of a 10^8-point sweep is the positioned max_points error and
// exit 2 (a bad spec), found by counting, not an out-of-memory crash.
func TestValidateOfAHundredMillionPointsIsThePositionedCapErrorAndExit2(t *testing.T) {
	values := func(n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = "v" + strconv.Itoa(i)
		}
		return "[" + strings.Join(v, ", ") + "]"
	}
	path := writeSpec(t, `version: runexp/v1
name: huge
studies:
  - name: s
    sweep:
      axes: {a: `+values(1000)+`, b: `+values(1000)+`, c: `+values(100)+`}
    steps:
      - {type: exec, with: {command: [echo, "${a}${b}${c}"]}}
`)
	for _, cmd := range []string{"validate", "plan"} {
		code, stdout, stderr := run(cmd, path, "--out", t.TempDir())
		if cmd == "validate" {
			code, stdout, stderr = run(cmd, path)
		}
		if code != ExitUsage || !strings.Contains(stderr, "x.yaml:6:7: studies[0].sweep: the sweep has 100000000 points, more than max_points (100000)") {
			t.Errorf("%s: exit %d, want %d with the cap error at the sweep\nstdout:\n%.300s\nstderr:\n%.500s", cmd, code, ExitUsage, stdout, stderr)
		}
	}
}
