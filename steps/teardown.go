package steps

import (
	"context"
	"fmt"
)

// Teardown stops a launched server before the point ends (the cleanup stack
// would stop it anyway; an explicit step lets later steps, such as a GPU
// release check, run after it).
type Teardown struct {
	ServerRef `yaml:",inline"`
}

func newTeardown() Step { return &Teardown{} }

// Validate reports nothing of its own: the planner checks the server id
// against the launch steps before it (ServerUser).
func (t *Teardown) Validate() error { return nil }

// UsesServer names the launch teardown stops; it always needs one.
func (t *Teardown) UsesServer() (id, needs string) { return t.Server, "teardown" }

// Run stops the server's whole process group. The first Ctrl-C does not cut
// the stop grace short (see uninterrupted); the step's timeout still does.
func (t *Teardown) Run(ctx context.Context, env *Env) error {
	s, err := env.Server(t.Server)
	if err != nil {
		return err
	}
	ctx, cancel := uninterrupted(ctx)
	defer cancel()
	rep, err := StopServer(ctx, env, s)
	how := "exited after " + rep.Signal.String()
	if !rep.Graceful {
		how = "killed with SIGKILL"
	}
	fmt.Fprintf(env.Log, "stopped %s: %s in %s\n", s.ID, how, rep.Duration.Round(1e6))
	return err
}
