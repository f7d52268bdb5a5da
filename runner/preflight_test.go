package runner_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/runner"
	"github.com/runexp/runexp/spec"
)

// onlyOnPath is a LookPath that finds only the names given.
func onlyOnPath(names ...string) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, n := range names {
			if n == name {
				return "/usr/bin/" + name, nil
			}
		}
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
}

// failingGPUs opens no backend, as on a machine without a GPU.
type failingGPUs struct{}

func (failingGPUs) Open(_ context.Context, r gpu.Request) (gpu.Backend, error) {
	return nil, fmt.Errorf("%s: %w", r.Backend, gpu.ErrUnavailable)
}

const engineSpec = `version: runexp/v1
name: pf
vars:
  engine: vllm
  server:
    select: engine
    cases: {vllm: [vllm, serve], sim: [runexp, sim, serve]}
  gpu:
    select: engine
    cases: {vllm: nvml, sim: sim}
studies:
  - name: s
    steps:
      - {id: baseline, type: measure, with: {gpu: "${gpu}"}}
      - {id: server, type: launch, with: {command: ["${server}", m, --port, "{port}"], port: auto}}
`

func preflightErr(t *testing.T, p *runner.Plan, opt runner.PreflightOptions) string {
	t.Helper()
	err := runner.Preflight(context.Background(), p, opt)
	var pe *runner.PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("preflight: %v, want a *runner.PreflightError", err)
	}
	return err.Error()
}

func TestPreflightNamesTheChoosingVarAndTheCaseThatWouldRun(t *testing.T) {
	p := compile(t, writeSpec(t, engineSpec), t.TempDir())
	msg := preflightErr(t, p, runner.PreflightOptions{LookPath: onlyOnPath(), GPUs: failingGPUs{}})
	for _, want := range []string{
		"vllm not found on PATH (var engine=vllm); to use the built-in simulator: --set engine=sim",
		"gpu backend nvml does not open",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	sim := compile(t, writeSpec(t, engineSpec), t.TempDir(), spec.Override{Name: "engine", Value: "sim"})
	if err := runner.Preflight(context.Background(), sim, runner.PreflightOptions{LookPath: onlyOnPath()}); err != nil {
		t.Errorf("engine=sim needs nothing of the machine: %v", err)
	}
}

func TestPreflightReportsABusyFixedPortWithTheVarToChange(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port
	p := compile(t, writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: pf
vars: {port: %d}
studies:
  - name: s
    steps:
      - {id: server, type: launch, with: {command: [sleep, "60"], port: "${port}"}}
`, port)), t.TempDir())
	msg := preflightErr(t, p, runner.PreflightOptions{LookPath: onlyOnPath("sleep")})
	if want := fmt.Sprintf("(var port=%d); choose another with --set port=N", port); !strings.Contains(msg, want) {
		t.Errorf("message lacks %q:\n%s", want, msg)
	}
}

func TestPreflightReportsAnUnsetAPIKeyEnv(t *testing.T) {
	p := compile(t, writeSpec(t, `version: runexp/v1
name: pf
studies:
  - name: s
    steps:
      - {type: load, with: {url: "http://127.0.0.1:1", model: m, api_key_env: PF_TEST_KEY, modes: [{name: a, kind: sequential, requests: 1}]}}
`), t.TempDir())
	msg := preflightErr(t, p, runner.PreflightOptions{Env: func(string) (string, bool) { return "", false }})
	if !strings.Contains(msg, "api_key_env PF_TEST_KEY is not set") {
		t.Errorf("message: %s", msg)
	}
	if err := runner.Preflight(context.Background(), p, runner.PreflightOptions{Env: func(string) (string, bool) { return "k", true }}); err != nil {
		t.Errorf("with the key set: %v", err)
	}
}

func TestPreflightChecksTheFirstWordOfAShellCommand(t *testing.T) {
	p := compile(t, writeSpec(t, `version: runexp/v1
name: pf
vars: {python: python3}
studies:
  - name: s
    steps:
      - {id: py, type: exec, with: {shell: true, command: ['${python} -c "print(1)"']}}
      - {id: other, type: exec, with: {shell: true, command: ['cd /tmp && nosuch']}}
`), t.TempDir())
	msg := preflightErr(t, p, runner.PreflightOptions{LookPath: onlyOnPath()})
	if !strings.Contains(msg, "python3 not found on PATH (var python=python3); install it, or --set python=/path/to/python3") {
		t.Errorf("message: %s", msg)
	}
	if strings.Contains(msg, "cd ") {
		t.Errorf("a shell builtin was looked up: %s", msg)
	}
}

// TestPreflightOfASlurmRunChecksOnlyTheEnvironment: with the slurm
// executor the points run on nodes, so a program missing here, a port
// busy here or a GPU absent here is the node's business; an unset
// api_key_env variable is not, since the tasks inherit this environment.
func TestPreflightOfASlurmRunChecksOnlyTheEnvironment(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	p := compile(t, writeSpec(t, fmt.Sprintf(`version: runexp/v1
name: pf
executor: slurm
studies:
  - name: s
    steps:
      - {id: baseline, type: measure, with: {gpu: nvml}}
      - {id: server, type: launch, with: {command: [vllm, serve, m], port: %d}}
      - {type: load, with: {url: "http://127.0.0.1:1", model: m, api_key_env: PF_TEST_KEY, modes: [{name: a, kind: sequential, requests: 1}]}}
`, held.Addr().(*net.TCPAddr).Port)), t.TempDir())
	unset := func(string) (string, bool) { return "", false }
	msg := preflightErr(t, p, runner.PreflightOptions{LookPath: onlyOnPath(), GPUs: failingGPUs{}, Env: unset})
	if !strings.Contains(msg, "api_key_env PF_TEST_KEY is not set in the environment; export PF_TEST_KEY=... before the run (the slurm tasks inherit it from here)") {
		t.Errorf("message lacks the unset variable:\n%s", msg)
	}
	if !strings.HasPrefix(msg, "preflight: 1 problem(s)") {
		t.Errorf("the submit host's programs, ports or GPUs were checked:\n%s", msg)
	}
	set := func(string) (string, bool) { return "k", true }
	if err := runner.Preflight(context.Background(), p, runner.PreflightOptions{LookPath: onlyOnPath(), GPUs: failingGPUs{}, Env: set}); err != nil {
		t.Errorf("with the key set: %v", err)
	}
}
