package steps

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
	"go.yaml.in/yaml/v3"
)

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one containing %q", want)
		}
		if !strings.Contains(fmtAny(r), want) {
			t.Fatalf("panic %v, want one containing %q", r, want)
		}
	}()
	f()
}

func fmtAny(x any) string {
	if s, ok := x.(string); ok {
		return s
	}
	if e, ok := x.(error); ok {
		return e.Error()
	}
	return ""
}

func TestNewRegistryPanics(t *testing.T) {
	k := Kind{Name: "sleep", New: newSleep}
	mustPanic(t, "duplicate kind sleep", func() { NewRegistry(k, k) })
	mustPanic(t, "without name", func() { NewRegistry(Kind{New: newSleep}) })
	mustPanic(t, "without name or constructor", func() { NewRegistry(Kind{Name: "x"}) })
}

func TestRegistryLookupAndOrder(t *testing.T) {
	r := NewRegistry(Kind{Name: "b", New: newSleep}, Kind{Name: "a", New: newTeardown})
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names = %v", got)
	}
	if k, ok := r.Lookup("a"); !ok || k.Name != "a" {
		t.Errorf("Lookup(a) = %v, %v", k, ok)
	}
	if _, ok := r.Lookup("c"); ok {
		t.Error("Lookup(c) found a kind")
	}
	if got := NewRegistry().Names(); len(got) != 0 {
		t.Errorf("empty registry names %v", got)
	}
}

var allKinds = []string{"exec", "launch", "load", "measure", "release-check", "sleep", "teardown", "telemetry", "wait-ready"}

func TestBuiltinKinds(t *testing.T) {
	r := Builtin()
	if got := r.Names(); !slices.Equal(got, allKinds) {
		t.Fatalf("Builtin names = %v, want %v", got, allKinds)
	}
	for _, k := range r.Kinds() {
		if strings.TrimSpace(k.Doc) == "" || strings.Contains(k.Doc, "\n") {
			t.Errorf("%s: Doc %q must be one non-empty line", k.Name, k.Doc)
		}
		if k.Timeout <= 0 {
			t.Errorf("%s: Timeout %v", k.Name, k.Timeout)
		}
		a, b := k.New(), k.New()
		if a == nil || a == b {
			t.Errorf("%s: New must return a fresh config each call", k.Name)
		}
	}
	if k, _ := r.Lookup("wait-ready"); k.Timeout != 10*time.Minute {
		t.Errorf("wait-ready timeout %v, README says 10 minutes", k.Timeout)
	}
}

// TestZeroConfigs checks what Kind.New gives before any `with:` is decoded:
// kinds with a required field fail naming it, the others validate.
func TestZeroConfigs(t *testing.T) {
	wantField := map[string]string{
		"launch": "command",
		"exec":   "command",
		"load":   "model",
		"sleep":  "duration",
		// wait-ready, teardown, measure, release-check, telemetry: valid defaults.
	}
	r := Builtin()
	for _, name := range allKinds {
		t.Run(name, func(t *testing.T) {
			k, _ := r.Lookup(name)
			st := k.New()
			if s, ok := st.(interface{ SetID(string) }); ok {
				s.SetID(name)
			}
			err := st.Validate()
			want, fails := wantField[name]
			if !fails {
				if err != nil {
					t.Fatalf("default config invalid: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("default config valid, want an error on %q", want)
			}
			if got := fieldOf(t, err); got != want {
				t.Errorf("field %q, want %q (%v)", got, want, err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	l := newLaunch().(*Launch)
	if l.Host != "127.0.0.1" || l.StopSignal != "SIGTERM" || l.StopGrace.D() != 30*time.Second || l.Env["CUDA_DEVICE_ORDER"] != "PCI_BUS_ID" {
		t.Errorf("launch defaults %+v", l)
	}
	// Each New gets its own env map: one step's env must not leak into another.
	l.Env["FOO"] = "1"
	if _, leaked := newLaunch().(*Launch).Env["FOO"]; leaked {
		t.Error("launch configs share their Env map")
	}
	w := newWaitReady().(*WaitReady)
	if w.Path != "/health" || w.ExpectStatus != 200 || w.Interval.D() != 500*time.Millisecond || w.AttemptTimeout.D() != 2*time.Second {
		t.Errorf("wait-ready defaults %+v", w)
	}
	rc := newReleaseCheck().(*ReleaseCheck)
	if rc.GPU != "auto" || rc.ToleranceMB != 256 || rc.OnDirty != "abort" || rc.Within.D() != time.Minute {
		t.Errorf("release-check defaults %+v", rc)
	}
	tm := newTelemetry().(*Telemetry)
	if tm.Interval.D() != 200*time.Millisecond || tm.File != "telemetry.json" {
		t.Errorf("telemetry defaults %+v", tm)
	}
	ld := newLoad().(*Load)
	if ld.API != "completions" || !ld.Stream || ld.MaxTokens != 32 || ld.Requests != "requests.jsonl" {
		t.Errorf("load defaults %+v", ld)
	}
}

func TestSetID(t *testing.T) {
	l := newLaunch().(*Launch)
	l.SetID("server")
	if l.ID != "server" || l.Log != "server.log" {
		t.Errorf("launch SetID: id %q log %q", l.ID, l.Log)
	}
	l = newLaunch().(*Launch)
	l.Log = "mine.log"
	l.SetID("server")
	if l.Log != "mine.log" {
		t.Errorf("SetID overwrote an explicit log: %q", l.Log)
	}
	x := newExec().(*Exec)
	x.SetID("probe")
	if x.ID != "probe" || x.Log != "probe.log" {
		t.Errorf("exec SetID: id %q log %q", x.ID, x.Log)
	}
	ld := newLoad().(*Load)
	ld.SetID("bench")
	if ld.ID != "bench" {
		t.Errorf("load SetID: %q", ld.ID)
	}
}

// TestDecodeLaunchEnvKeepsDefault decodes a `with:` block the way the
// planner does: a user env map adds to CUDA_DEVICE_ORDER, as documented.
func TestDecodeLaunchEnvKeepsDefault(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("command: [x]\nenv: {FOO: bar}\nstop_grace: 2s\n"), &doc); err != nil {
		t.Fatal(err)
	}
	l := newLaunch().(*Launch)
	d := &spec.Decoder{File: "t.yaml"}
	if errs := d.Decode(doc.Content[0], "with", l); len(errs) > 0 {
		t.Fatal(errs)
	}
	if l.Env["FOO"] != "bar" || l.Env["CUDA_DEVICE_ORDER"] != "PCI_BUS_ID" {
		t.Errorf("env %v", l.Env)
	}
	if l.StopGrace.D() != 2*time.Second {
		t.Errorf("stop_grace %v", l.StopGrace)
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
			if got := fieldOf(t, err); got != c.field {
				t.Errorf("field %q, want %q (%v)", got, c.field, err)
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
	if err := (&Teardown{Server: "anything"}).Validate(); err != nil {
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
		{"exec without SetID", &Exec{Command: []string{"true"}}, "log", ""},
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

// BUG (steps/release.go:43): a non-positive interval is reported at the
// "within" key, so the planner points the user at the wrong line.
func TestValidateReleaseCheckIntervalField(t *testing.T) {
	r := newReleaseCheck().(*ReleaseCheck)
	r.Interval = 0
	err := r.Validate()
	if err == nil {
		t.Fatal("interval 0 accepted")
	}
	if got := fieldOf(t, err); got != "interval" {
		t.Errorf("BUG: interval 0 is reported at field %q, want \"interval\" (%v)", got, err)
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
