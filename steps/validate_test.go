package steps

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/spec"
)

// fieldsOf returns the field of every *spec.FieldError in err, in order.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, e := range spec.SplitErrors(err) {
		var fe *spec.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v (%T) is not a *spec.FieldError", e, e)
		}
		out = append(out, fe.Field)
	}
	return out
}

func TestLaunchValidateReportsEveryFieldAtItsKey(t *testing.T) {
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{"sleep", "60"}
	l.Port, l.StopSignal, l.Log = 70000, "SIGTREM", "../x.log"
	got := fieldsOf(t, l.Validate())
	if want := []string{"port", "stop_signal", "log"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	if !strings.Contains(l.Validate().Error(), `did you mean "SIGTERM"?`) {
		t.Errorf("no did-you-mean: %v", l.Validate())
	}
}

func TestLoadValidateReportsEngineProblemsAtTheirOwnKeys(t *testing.T) {
	l := newLoad().(*Load)
	l.Model = "m"
	l.API, l.ErrorThreshold = "chatt", 2
	l.Modes = []LoadMode{{Kind: "sequential", Requests: 1}, {Kind: "rate", Requests: 4}}
	got := fieldsOf(t, l.Validate())
	if want := []string{"api", "error_threshold", "modes[1].rate"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
}

func TestWaitReadyValidateReportsEveryJSONCheckAtItsKey(t *testing.T) {
	w := newWaitReady().(*WaitReady)
	w.Path = "health"
	w.JSONChecks = []JSONCheck{{Path: "/v1/models", Field: "x"}, {Path: "v1"}}
	got := fieldsOf(t, w.Validate())
	if want := []string{"path", "json_checks[1].field", "json_checks[1].path"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
}

func TestGPUStepsValidateReportEveryField(t *testing.T) {
	r := newReleaseCheck().(*ReleaseCheck)
	r.GPU, r.OnDirty, r.Within = "nvlm", "continu", 0
	if got, want := fieldsOf(t, r.Validate()), []string{"gpu", "on_dirty", "within"}; !slices.Equal(got, want) {
		t.Errorf("release-check fields %v, want %v", got, want)
	}
	tm := newTelemetry().(*Telemetry)
	tm.GPU, tm.Fallback, tm.Interval = "none", "hots", 0
	if got, want := fieldsOf(t, tm.Validate()), []string{"gpu", "fallback", "interval"}; !slices.Equal(got, want) {
		t.Errorf("telemetry fields %v, want %v", got, want)
	}
}

// A misspelt value of a closed vocabulary is rejected by the decoder at its
// own key, with the closest value.
func TestMisspeltVocabularyValueGetsDidYouMeanAtItsKey(t *testing.T) {
	for _, tc := range []struct {
		kind, with, path, want string
	}{
		{"launch", "stop_signal: SIGTREM", "with.stop_signal", `did you mean "SIGTERM"?`},
		{"release-check", "on_dirty: abrot", "with.on_dirty", `did you mean "abort"?`},
		{"measure", "gpu: nvlm", "with.gpu", `did you mean "nvml"?`},
		{"telemetry", "fallback: hots", "with.fallback", `did you mean "host"?`},
		{"load", "api: chatt", "with.api", `did you mean "chat"?`},
		{"load", "modes: [{kind: concurent, requests: 1}]", "with.modes[0].kind", `did you mean "concurrent"?`},
		{"load", "modes: [{kind: rate, rate: 1, requests: 1, arrival: poison}]", "with.modes[0].arrival", `did you mean "poisson"?`},
	} {
		k, _ := Builtin().Lookup(tc.kind)
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tc.with), &n); err != nil {
			t.Fatal(err)
		}
		errs := (&spec.Decoder{File: "f.yaml"}).Decode(n.Content[0], "with", k.New())
		if len(errs) != 1 || errs[0].Path != tc.path || !strings.Contains(errs[0].Msg, tc.want) {
			t.Errorf("%s %q: got %v, want one problem at %s with %s", tc.kind, tc.with, errs, tc.path, tc.want)
		}
	}
}

// The documented spellings of a backend (any case, smi) decode.
func TestGPUBackendAcceptsRegistrySpellings(t *testing.T) {
	for _, name := range []string{"NVML", "smi", "nvidia_smi", "auto", ""} {
		if !GPUBackend("").Match(name) {
			t.Errorf("%q rejected", name)
		}
	}
}
