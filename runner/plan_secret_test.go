package runner_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/steps"
)

// An environment value is hidden also where the plan shows it escaped (a
// quote, a backslash or < in a JSON string), and a value shorter than
// runner.MinSecretLen is shown as is.
func TestPlanHidesEnvValuesAlsoWhereTheyAreEscaped(t *testing.T) {
	const secret = `tok"en\with<specials>`
	env := map[string]string{"TOKEN": secret, "ONE": "1"}
	path := writeSpec(t, `version: runexp/v1
name: escaped
studies:
  - name: s
    steps:
      - id: server
        type: launch
        with:
          command: [server, "--token=${env.TOKEN}", --workers, "${env.ONE}"]
          env: {TOKEN: "${env.TOKEN}"}
      - {id: stop, type: teardown}
`)
	for _, countOnly := range []bool{false, true} {
		p, err := runner.Load(path, steps.Builtin(), runner.Options{OutDir: t.TempDir(), CountOnly: countOnly,
			Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if err != nil {
			t.Fatal(err)
		}
		var text, js bytes.Buffer
		if err := p.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := p.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		escaped, _ := json.Marshal(secret)
		for name, out := range map[string]string{"text": text.String(), "JSON": js.String()} {
			if strings.Contains(out, string(escaped[1:len(escaped)-1])) || strings.Contains(out, secret) {
				t.Errorf("CountOnly=%v: %s shows the token:\n%s", countOnly, name, out)
			}
			if !strings.Contains(out, `--token=${env.TOKEN}`) || !strings.Contains(out, `"1"`) {
				t.Errorf("CountOnly=%v: %s: want --token=${env.TOKEN} and the short value 1 as is:\n%s", countOnly, name, out)
			}
		}
		if countOnly {
			continue
		}
		if st := p.Studies[0].Points[0].Steps[0]; !strings.Contains(fmtWith(t, st.With), `\u003cspecials`) {
			t.Errorf("the step itself lost the real value: %s", fmtWith(t, st.With))
		}
	}
}

func fmtWith(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
