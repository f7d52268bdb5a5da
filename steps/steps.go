// Package steps defines what a step is and holds the built-in step kinds.
//
// Contract: a Kind turns a `with:` block into a Step. The planner creates a
// Step with Kind.New (which must have no side effects and return a value
// pre-filled with defaults), decodes the block into it strictly with
// spec.Decoder, and calls Validate. The runner later calls Run with the
// point's Env. Run must honour ctx; anything long-lived it starts (a server,
// a sampler) must be handed to Env.Defer so it is released after the point,
// whatever happens. While a step runs, the runner watches the servers
// launched before it (Env.WatchServers): one that ends on its own fails the
// step with a *ServerExitedError. Files a step writes in the point folder
// are opened through an os.Root of it, so a link planted there cannot
// redirect them. Adding a kind is one file: a type implementing Step and a
// Kind entry in Builtin.
package steps

import (
	"context"
	"net"
	"sort"
	"strconv"
	"time"
)

// Step is one configured unit of work. Its exported fields are its
// configuration: they are decoded from `with:`, printed by `runexp plan`
// (JSON), and described by the JSON Schema.
type Step interface {
	Validate() error
	Run(ctx context.Context, env *Env) error
}

// Kind registers one step type.
type Kind struct {
	Name    string        // the `type:` value
	Doc     string        // one line, for `runexp steps` and the schema
	Timeout time.Duration // default step timeout
	New     func() Step   // a config pre-filled with defaults
}

// Registry maps type names to kinds.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry builds a registry; an empty or duplicate name is a programmer error.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: map[string]Kind{}}
	for _, k := range kinds {
		if k.Name == "" || k.New == nil {
			panic("steps: kind without name or constructor")
		}
		if _, dup := r.kinds[k.Name]; dup {
			panic("steps: duplicate kind " + k.Name)
		}
		r.kinds[k.Name] = k
	}
	return r
}

// Lookup finds a kind by name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Kinds returns every kind sorted by name.
func (r *Registry) Kinds() []Kind {
	out := make([]Kind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the kind names sorted.
func (r *Registry) Names() []string {
	var out []string
	for _, k := range r.Kinds() {
		out = append(out, k.Name)
	}
	return out
}

// Builtin is the registry of every step kind runexp ships.
func Builtin() *Registry {
	return NewRegistry(
		Kind{Name: "launch", Doc: "start a server in its own process group, logging to the point folder; stopped after the point", Timeout: time.Minute, New: newLaunch},
		Kind{Name: "wait-ready", Doc: "poll the server over HTTP until it answers (and optional JSON checks hold); fail fast if it exits", Timeout: 10 * time.Minute, New: newWaitReady},
		Kind{Name: "teardown", Doc: "stop a launched server: signal its group, wait the grace period, kill the group, wait until none remains", Timeout: 3 * time.Minute, New: newTeardown},
		Kind{Name: "load", Doc: "send OpenAI-compatible requests (sequential, concurrent, rate) and record latency and throughput", Timeout: time.Hour, New: newLoad},
		Kind{Name: "measure", Doc: "record device memory (and the server tree's), engine log values, /metrics, JSON fields and a KV-cache prediction", Timeout: 2 * time.Minute, New: newMeasure},
		Kind{Name: "release-check", Doc: "after teardown, wait until device memory is back near the pre-launch baseline; report who still holds it", Timeout: 5 * time.Minute, New: newReleaseCheck},
		Kind{Name: "telemetry", Doc: "sample GPU utilisation, memory and power in the background until the point ends; summarised per load mode", Timeout: time.Minute, New: newTelemetry},
		Kind{Name: "exec", Doc: "run a command to completion, logging its output and recording its exit code", Timeout: 10 * time.Minute, New: newExec},
		Kind{Name: "sleep", Doc: "wait for a fixed duration", Timeout: time.Hour, New: newSleep},
	)
}

// Targeter is implemented by steps that talk to a launched server: the
// planner passes the launch steps before them at the point, so the plan can
// show the URL each step will use. It is for display; at run time the step
// asks Env for the server actually launched.
type Targeter interface {
	SetTarget(launches map[string]Launcher, last string)
}

// ServerUser is implemented by steps that reach a launched server at run
// time. The planner checks, before anything runs, that the launch a step
// names comes before it at the point, and that some launch does when the
// step names none but needs one.
type ServerUser interface {
	// UsesServer returns the launch step id the step names ("" for the last
	// launched) and, when the step cannot run without a launched server,
	// what needs it ("" when it can).
	UsesServer() (id, needs string)
}

// targetURL is the URL of the named (or last) launch, plus path.
func targetURL(launches map[string]Launcher, last, server, path string) string {
	id := server
	if id == "" {
		id = last
	}
	if l, ok := launches[id]; ok {
		host, port := l.Endpoint()
		if port > 0 {
			return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
		}
		if a, ok := l.(interface{ AutoPort() bool }); ok && a.AutoPort() {
			// chosen at launch: the plan shows where it goes
			return "http://" + net.JoinHostPort(host, PortPlaceholder) + path
		}
	}
	return ""
}

// IDSetter is implemented by steps that need their step id (for log and
// value names); the planner calls SetID before decoding `with:`.
type IDSetter interface {
	SetID(id string)
}

// Launcher is implemented by steps that start a server later steps of the
// point talk to; the planner hands launchers to each Targeter.
type Launcher interface {
	Step
	// Endpoint is where the server will listen; port 0 means undeclared.
	Endpoint() (host string, port int)
}

var (
	_ Launcher   = (*Launch)(nil)
	_ IDSetter   = (*Launch)(nil)
	_ IDSetter   = (*Exec)(nil)
	_ IDSetter   = (*Load)(nil)
	_ ServerUser = (*WaitReady)(nil)
	_ ServerUser = (*Load)(nil)
	_ ServerUser = (*Measure)(nil)
	_ ServerUser = (*Teardown)(nil)
	_ ServerUser = (*Exec)(nil)
	_ Targeter   = (*WaitReady)(nil)
	_ Targeter   = (*Load)(nil)
	_ Targeter   = (*Measure)(nil)
)
