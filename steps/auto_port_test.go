package steps

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/spec"
)

func TestLaunchAutoPortStartsTheServerOnAChosenFreePortAndLaterStepsReachIt(t *testing.T) {
	env := newTestEnv(t)
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", PortPlaceholder}
	l.Port = AutoPort
	l.StopGrace = spec.Duration(5 * time.Second)
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatalf("launch: %v", err)
	}
	defer env.RunCleanups(context.Background())
	port, ok := mustValue(t, env, "server_port").(int)
	if !ok || port <= 0 {
		t.Fatalf("server_port %v", port)
	}
	s, err := env.Server("server")
	if err != nil {
		t.Fatal(err)
	}
	if s.Port != port || s.URL != "http://127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("server %+v, want port %d", s, port)
	}
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatalf("wait-ready at the chosen port: %v", err)
	}
}

func TestLaunchAutoPortIsRefusedWhenTheCommandCannotReceiveIt(t *testing.T) {
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", "8000"}
	l.Port = AutoPort
	if got := fieldsOf(t, l.Validate()); len(got) != 1 || got[0] != "port" {
		t.Fatalf("problems at %v, want one at port", got)
	}
	if err := l.Validate(); !strings.Contains(err.Error(), PortPlaceholder) {
		t.Errorf("%v does not say where the port goes", err)
	}
	l.Env = map[string]string{"PORT": PortPlaceholder}
	if err := l.Validate(); err != nil {
		t.Errorf("the port passed through env: %v", err)
	}
}

func TestPortDecodesNumbersAutoAndNumbersWrittenAsText(t *testing.T) {
	for in, want := range map[string]Port{"8000": 8000, "auto": AutoPort, `"8001"`: 8001, "0": 0} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(in), &n); err != nil {
			t.Fatal(err)
		}
		var p Port
		if errs := p.UnmarshalSpec(&spec.Decoder{}, n.Content[0], "port"); errs != nil {
			t.Errorf("%s: %v", in, errs)
		}
		if p != want {
			t.Errorf("%s: got %v, want %v", in, p, want)
		}
	}
	for _, in := range []string{"eighty", "70000", "-3"} {
		var n yaml.Node
		yaml.Unmarshal([]byte(in), &n)
		var p Port
		if errs := p.UnmarshalSpec(&spec.Decoder{}, n.Content[0], "port"); errs == nil {
			t.Errorf("%s accepted as %v", in, p)
		}
	}
	if b, _ := json.Marshal(AutoPort); string(b) != `"auto"` {
		t.Errorf("auto marshals as %s", b)
	}
}

func TestTargetOfAnAutoPortLaunchShowsWhereThePortGoes(t *testing.T) {
	l := newLaunch().(*Launch)
	l.Port = AutoPort
	got := targetURL(map[string]Launcher{"server": l}, "server", "", "/health")
	if got != "http://127.0.0.1:{port}/health" {
		t.Errorf("target %q", got)
	}
}
