package runner

import (
	"encoding/json"
	"io"
	"sort"
	"strings"

	"github.com/runexp/runexp/spec"
)

// MinSecretLen is the shortest environment value the plan and manifest
// hide. A token passed as ${env.HF_TOKEN} is far longer; hiding a short
// value such as "1" or "on" would rewrite every unrelated "1" into
// ${env.X} and hide nothing worth hiding.
const MinSecretLen = 8

// redactor shows environment values as ${env.NAME} in what runexp writes
// about a plan (plan text, plan JSON, plan.txt, plan.json, manifest), while
// the steps themselves keep the real values. It replaces text only inside
// the step configurations and point errors, never in paths runexp chose
// (the run directory), and only values of at least MinSecretLen bytes.
type redactor struct {
	text *strings.Replacer // for text
	json *strings.Replacer // for JSON-encoded text (values escaped as JSON strings)
}

func newRedactor(vals []spec.EnvValue) *redactor {
	var keep []spec.EnvValue
	for _, v := range vals {
		if len(v.Value) >= MinSecretLen {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	// Longest first, so a value containing another is hidden whole.
	sort.SliceStable(keep, func(i, j int) bool { return len(keep[i].Value) > len(keep[j].Value) })
	var text, js []string
	for _, v := range keep {
		ref := "${env." + v.Name + "}"
		text = append(text, v.Value, ref)
		quoted, _ := json.Marshal(v.Value)
		js = append(js, string(quoted[1:len(quoted)-1]), ref)
	}
	return &redactor{text: strings.NewReplacer(text...), json: strings.NewReplacer(js...)}
}

// Text hides the secrets in s.
func (r *redactor) Text(s string) string {
	if r == nil {
		return s
	}
	return r.text.Replace(s)
}

// JSON hides the secrets in JSON-encoded text (where a value holding a
// quote or a backslash appears escaped).
func (r *redactor) JSON(data []byte) []byte {
	if r == nil {
		return data
	}
	return []byte(r.json.Replace(string(data)))
}

// JSONText is JSON for a string.
func (r *redactor) JSONText(s string) string {
	if r == nil {
		return s
	}
	return r.json.Replace(s)
}

// hidePoint hides the secrets in a finished point's messages, which may
// quote a step's configuration (an argv, a URL).
func (r *redactor) hidePoint(pr *PointResult) {
	if r == nil {
		return
	}
	pr.Error, pr.Cleanup = r.Text(pr.Error), r.Text(pr.Cleanup)
	for i := range pr.Steps {
		pr.Steps[i].Error = r.Text(pr.Steps[i].Error)
	}
}

// redactingWriter hides the secrets in what the run prints. runexp prints
// whole lines with one Write each, so a value is never split across writes.
type redactingWriter struct {
	w io.Writer
	r *redactor
}

func (w *redactingWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.r.Text(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}
