package steps

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
	"go.yaml.in/yaml/v3"
)

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

type validateCase struct {
	name  string
	step  Step
	field string // "" means valid
	msg   string // substring of the message, optional
}

func runValidateCases(t *testing.T, cases []validateCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.step.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("valid, want an error on %q", c.field)
			}
			if got := fieldsOf(t, err); !slices.Equal(got, []string{c.field}) {
				t.Errorf("fields %q, want only %q (%v)", got, c.field, err)
			}
			if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
		})
	}
}

func TestValidateLaunch(t *testing.T) {
	mk := func(f func(*Launch)) Step {
		l := newLaunch().(*Launch)
		l.SetID("server")
		l.Command = []string{"vllm", "serve", "m"}
		f(l)
		return l
	}
	runValidateCases(t, []validateCase{
		{"ok", mk(func(*Launch) {}), "", ""},
		{"ok port", mk(func(l *Launch) { l.Port = 8000 }), "", ""},
		{"no command", mk(func(l *Launch) { l.Command = nil }), "command", "missing"},
		{"empty argv0", mk(func(l *Launch) { l.Command = []string{""} }), "command", ""},
		{"negative port", mk(func(l *Launch) { l.Port = -1 }), "port", "0..65535"},
		{"port too big", mk(func(l *Launch) { l.Port = 65536 }), "port", ""},
		{"bad signal", mk(func(l *Launch) { l.StopSignal = "SIGTREM" }), "stop_signal", `did you mean "SIGTERM"`},
		{"other signal ok", mk(func(l *Launch) { l.StopSignal = "SIGINT" }), "", ""},
		{"log escapes", mk(func(l *Launch) { l.Log = "../x.log" }), "log", "inside the point folder"},
		{"log absolute", mk(func(l *Launch) { l.Log = "/tmp/x.log" }), "log", ""},
		{"log in subdir ok", mk(func(l *Launch) { l.Log = "logs/x.log" }), "", ""},
	})
}

func TestValidateWaitReady(t *testing.T) {
	mk := func(f func(*WaitReady)) Step {
		w := newWaitReady().(*WaitReady)
		f(w)
		return w
	}
	runValidateCases(t, []validateCase{
		{"ok", mk(func(*WaitReady) {}), "", ""},
		{"ok checks", mk(func(w *WaitReady) {
			w.JSONChecks = []JSONCheck{{Path: "/v1/models", Field: "data[0].max_model_len", Equals: 4096}}
		}), "", ""},
		{"interval", mk(func(w *WaitReady) { w.Interval = 0 }), "interval", ""},
		{"attempt_timeout", mk(func(w *WaitReady) { w.AttemptTimeout = -1 }), "attempt_timeout", ""},
		{"status low", mk(func(w *WaitReady) { w.ExpectStatus = 99 }), "expect_status", ""},
		{"status high", mk(func(w *WaitReady) { w.ExpectStatus = 600 }), "expect_status", ""},
		{"path", mk(func(w *WaitReady) { w.Path = "health" }), "path", "start with /"},
		{"check field", mk(func(w *WaitReady) {
			w.JSONChecks = []JSONCheck{{Path: "/a", Field: "x"}, {Path: "/v1/models"}}
		}), "json_checks[1].field", ""},
		{"check path", mk(func(w *WaitReady) { w.JSONChecks = []JSONCheck{{Path: "v1/models", Field: "x"}} }), "json_checks[0].path", ""},
	})
}

func TestValidateTeardown(t *testing.T) {
	if err := (&Teardown{ServerRef: ServerRef{Server: "anything"}}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestValidateExecSleep(t *testing.T) {
	mk := func(f func(*Exec)) Step {
		x := newExec().(*Exec)
		x.SetID("x")
		x.Command = []string{"true"}
		f(x)
		return x
	}
	runValidateCases(t, []validateCase{
		{"exec ok", mk(func(*Exec) {}), "", ""},
		{"exec no command", mk(func(x *Exec) { x.Command = nil }), "command", ""},
		{"exec empty argv0", mk(func(x *Exec) { x.Command = []string{""} }), "command", ""},
		{"exec bad log", mk(func(x *Exec) { x.Log = "../x" }), "log", ""},
		{"exec without SetID", &Exec{Process: Process{Command: []string{"true"}}}, "log", ""},
		{"sleep ok", &Sleep{Duration: spec.Duration(time.Second)}, "", ""},
		{"sleep zero", &Sleep{}, "duration", "positive"},
		{"sleep negative", &Sleep{Duration: -1}, "duration", ""},
	})
}

func TestValidateLoad(t *testing.T) {
	mk := func(f func(*Load)) Step {
		l := newLoad().(*Load)
		l.Model = "m"
		l.Modes = []LoadMode{{Kind: "sequential", Requests: 4}}
		f(l)
		return l
	}
	runValidateCases(t, []validateCase{
		{"ok", mk(func(*Load) {}), "", ""},
		{"ok all kinds", mk(func(l *Load) {
			l.Modes = []LoadMode{{Kind: "sequential", Requests: 2}, {Kind: "concurrent", Requests: 4, Concurrency: 2},
				{Kind: "rate", Requests: 4, Rate: 10, Arrival: "poisson"}}
		}), "", ""},
		{"no model", mk(func(l *Load) { l.Model = "" }), "model", ""},
		{"no modes", mk(func(l *Load) { l.Modes = nil }), "modes", "at least one mode"},
		{"bad kind", mk(func(l *Load) { l.Modes = append(l.Modes, LoadMode{Kind: "burst", Requests: 1}) }), "modes[1].kind", `"burst"`},
		{"empty kind", mk(func(l *Load) { l.Modes = []LoadMode{{Requests: 1}} }), "modes[0].kind", ""},
		{"requests_file escapes", mk(func(l *Load) { l.Requests = "../r.jsonl" }), "requests_file", ""},
		{"requests_file empty", mk(func(l *Load) { l.Requests = "" }), "requests_file", ""},
		{"concurrent without concurrency", mk(func(l *Load) { l.Modes = []LoadMode{{Kind: "concurrent", Requests: 4}} }), "modes[0].concurrency", "0 must be >= 1"},
		{"rate without rate", mk(func(l *Load) { l.Modes = []LoadMode{{Kind: "rate", Requests: 4}} }), "modes[0].rate", "0 must be > 0"},
		{"duplicate mode names", mk(func(l *Load) {
			l.Modes = []LoadMode{{Kind: "sequential", Requests: 1}, {Kind: "sequential", Requests: 2}}
		}), "modes[1].name", "duplicate mode name"},
		{"no requests", mk(func(l *Load) { l.Modes = []LoadMode{{Kind: "sequential"}} }), "modes[0]", "requests or duration"},
		{"bad api", mk(func(l *Load) { l.API = "embeddings" }), "api", `api: "embeddings" is not one of completions, chat`},
		{"reserved extra", mk(func(l *Load) { l.Extra = map[string]any{"model": "x"} }), "extra.model", `"model" is set by the engine`},
	})
}

func TestValidateMeasure(t *testing.T) {
	mk := func(f func(*Measure)) Step {
		m := newMeasure().(*Measure)
		f(m)
		return m
	}
	runValidateCases(t, []validateCase{
		{"default", mk(func(*Measure) {}), "", ""},
		{"none", mk(func(m *Measure) { m.GPU = "none" }), "", ""},
		{"sim", mk(func(m *Measure) { m.GPU = "sim" }), "", ""},
		{"host", mk(func(m *Measure) { m.GPU = "host" }), "", ""},
		{"bad gpu", mk(func(m *Measure) { m.GPU = "nvlm" }), "gpu", `did you mean "nvml"`},
		{"preset", mk(func(m *Measure) { m.Log = "vllm" }), "", ""},
		{"bad preset", mk(func(m *Measure) { m.Log = "sglang" }), "log", `"sglang" is not one of`},
		{"rule ok", mk(func(m *Measure) { m.LogRules = []LogRule{{Pattern: `took (?P<secs>[\d.]+) s`}} }), "", ""},
		{"rule bad regexp", mk(func(m *Measure) {
			m.LogRules = []LogRule{{Pattern: `(?P<a>\d+)`}, {Pattern: `(?P<b>[`}}
		}), "log_rules[1].pattern", ""},
		{"rule no capture", mk(func(m *Measure) { m.LogRules = []LogRule{{Pattern: `\d+`}} }), "log_rules[0].pattern", "no named capture"},
		{"rule bad unit", mk(func(m *Measure) {
			m.LogRules = []LogRule{{Pattern: `(?P<a>\d+) (?P<a_unit>\w+)`, Units: map[string]string{"a": "furlongs"}}}
		}), "log_rules[0].pattern", ""},
		{"metrics ok", mk(func(m *Measure) { m.Metrics = "/metrics" }), "", ""},
		{"metrics relative", mk(func(m *Measure) { m.Metrics = "metrics" }), "metrics", ""},
		{"predict preset", mk(func(m *Measure) { m.Predict = &PredictConfig{Model: "microsoft/Phi-3-mini-4k-instruct"} }), "", ""},
		{"predict short preset", mk(func(m *Measure) { m.Predict = &PredictConfig{Model: "Phi-3-mini-4k-instruct"} }), "", ""},
		{"predict json path", mk(func(m *Measure) { m.Predict = &PredictConfig{Model: "models/config.json"} }), "", ""},
		{"predict no model", mk(func(m *Measure) { m.Predict = &PredictConfig{} }), "predict.model", "missing"},
		{"predict unknown model", mk(func(m *Measure) { m.Predict = &PredictConfig{Model: "gpt-5"} }), "predict.model", "neither a preset"},
	})
}

func TestValidateReleaseCheckTelemetry(t *testing.T) {
	rc := func(f func(*ReleaseCheck)) Step {
		r := newReleaseCheck().(*ReleaseCheck)
		f(r)
		return r
	}
	tm := func(f func(*Telemetry)) Step {
		x := newTelemetry().(*Telemetry)
		f(x)
		return x
	}
	runValidateCases(t, []validateCase{
		{"release ok", rc(func(*ReleaseCheck) {}), "", ""},
		{"release continue", rc(func(r *ReleaseCheck) { r.OnDirty = "continue" }), "", ""},
		{"release bad gpu", rc(func(r *ReleaseCheck) { r.GPU = "none" }), "gpu", ""},
		{"release on_dirty", rc(func(r *ReleaseCheck) { r.OnDirty = "ignore" }), "on_dirty", `"ignore"`},
		{"release within", rc(func(r *ReleaseCheck) { r.Within = 0 }), "within", ""},
		{"telemetry ok", tm(func(*Telemetry) {}), "", ""},
		{"telemetry bad gpu", tm(func(x *Telemetry) { x.GPU = "cuda" }), "gpu", ""},
		{"telemetry interval", tm(func(x *Telemetry) { x.Interval = 0 }), "interval", ""},
		{"telemetry file", tm(func(x *Telemetry) { x.File = "/tmp/t.json" }), "file", ""},
	})
}

// A non-positive interval is reported at its own key, interval (not at
// within), so the planner points the user at the right line.
func TestReleaseCheckValidateReportsIntervalAtItsKey(t *testing.T) {
	r := newReleaseCheck().(*ReleaseCheck)
	r.Interval = 0
	err := r.Validate()
	if err == nil {
		t.Fatal("interval 0 accepted")
	}
	if got := fieldsOf(t, err); !slices.Equal(got, []string{"interval"}) {
		t.Errorf("interval 0 is reported at field %q, want \"interval\" (%v)", got, err)
	}
}

// The list of backends in an unknown-gpu error names each backend once.
func TestGPUSpecErrorListsBackendsOnce(t *testing.T) {
	var p spec.Problems
	GPUSpec{GPU: "bogus"}.validate(&p, false)
	err := p.Err()
	if err == nil {
		t.Fatal("bogus backend accepted")
	}
	if n := strings.Count(err.Error(), "auto"); n != 1 {
		t.Errorf("\"auto\" appears %d times in %q", n, err)
	}
	for _, name := range []string{"nvml", "nvidia-smi", "host", "sim"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q does not list %s", err, name)
		}
	}
}

// README ("GPU backends"): `smi` and `nvidia_smi` are aliases of
// `nvidia-smi`. Every step that reads a device validates them.
func TestGPUStepsAcceptTheBackendAliasesOfNvidiaSMI(t *testing.T) {
	for _, name := range []GPUBackend{"smi", "nvidia_smi"} {
		gs := GPUSpec{GPU: name}
		m := newMeasure().(*Measure)
		m.GPUSpec = gs
		tm := newTelemetry().(*Telemetry)
		tm.GPUSpec = gs
		r := newReleaseCheck().(*ReleaseCheck)
		r.GPUSpec = gs
		for kind, st := range map[string]interface{ Validate() error }{"measure": m, "telemetry": tm, "release-check": r} {
			if err := st.Validate(); err != nil {
				t.Errorf("%s with gpu: %s (a documented alias of nvidia-smi): %v", kind, name, err)
			}
		}
	}
}

// The stop signals a launch accepts are listed sorted (for the schema and
// did-you-mean) and include SIGTERM and SIGKILL.
func TestSignalValuesAreSortedAndIncludeTermAndKill(t *testing.T) {
	names := Signal("").Values()
	if !slices.IsSorted(names) || !slices.Contains(names, "SIGTERM") || !slices.Contains(names, "SIGKILL") {
		t.Errorf("signalNames %v", names)
	}
}
