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
			if got := fieldsOf(t, err)[0]; got != want {
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
