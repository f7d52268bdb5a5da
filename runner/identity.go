package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/runexp/runexp/spec"
)

// identityVersion changes when what the identity covers changes, so that
// a resume never keeps a point hashed under other rules.
const identityVersion = "runexp-point-identity/1"

// identityInput is what a point's identity covers: what it runs after
// substitution and what reads its results. Its position (id, slug, folder)
// is left out, so inserting a value in an axis does not change the other
// points' identities.
type identityInput struct {
	Version   string       `json:"v"`
	Study     string       `json:"study"`
	Sweep     []NamedValue `json:"sweep"`
	Steps     []*StepPlan  `json:"steps"`
	Artifacts any          `json:"artifacts"`
}

// identityValues are the sweep values a point's identity covers: all of
// them but repetition 1, so that the first repetition of a point is the
// point run once (raising repeat: keeps the run already done).
// The values are returned as they are otherwise (nil stays nil), so that
// the identities of points without repetitions are those runexp gave them
// before repeat: existed, and their runs resume.
func identityValues(values []NamedValue) []NamedValue {
	first := func(v NamedValue) bool { return v.Name == spec.RepeatAxis && fmt.Sprint(v.Value) == "1" }
	if !slices.ContainsFunc(values, first) {
		return values
	}
	return slices.DeleteFunc(slices.Clone(values), first)
}

// setIdentities gives every point of p its identity.
func (p *Plan) setIdentities() {
	for _, s := range p.Studies {
		for _, pt := range s.Points {
			pt.Identity = pointIdentity(p, s, pt)
		}
	}
}

// pointIdentity hashes the point's resolved configuration as `runexp plan
// --json` prints it (step configurations encode secrets by name or
// redacted, never their values), with the paths that name its run folder,
// point folder and slug replaced by their placeholders: a resume into the
// same folder and a dry run elsewhere agree, and a point whose id moved
// keeps its identity.
func pointIdentity(p *Plan, s *StudyPlan, pt *PointPlan) string {
	data, err := json.Marshal(identityInput{Version: identityVersion, Study: s.Name, Sweep: identityValues(pt.Values),
		Steps: pt.Steps, Artifacts: s.Artifacts})
	if err != nil {
		// Every step configuration is printed by `runexp plan --json`; one
		// that cannot be is hashed by its type and id only (it then never
		// matches a point run under another configuration by accident,
		// because the error text is part of the hash).
		data = []byte(err.Error())
	}
	text := string(data)
	for _, r := range []struct{ path, placeholder string }{
		{pt.Dir, "${point.dir}"},
		{s.Dir, "${study.dir}"},
		{p.RunDir, "${run.dir}"},
		{pt.Slug, "${point.slug}"},
	} {
		if r.path != "" {
			text = strings.ReplaceAll(text, jsonEscaped(r.path), r.placeholder)
		}
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:16])
}

// jsonEscaped is s as it appears inside a JSON string.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
