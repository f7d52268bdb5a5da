package steps

import (
	"context"
	"os"
	"sort"
)

// envList renders a map as sorted KEY=VALUE pairs.
func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// resolveProgram maps argv[0] "runexp" to this executable, so specs can run
// the built-in simulator (`runexp sim serve`) wherever runexp is installed.
func resolveProgram(argv []string) []string {
	if len(argv) == 0 || argv[0] != "runexp" {
		return argv
	}
	self, err := os.Executable()
	if err != nil {
		return argv
	}
	out := append([]string{self}, argv[1:]...)
	return out
}

// openInPoint opens name inside the point folder through an os.Root, as
// the runner writes artifacts: a symbolic link planted there (by an exec
// step, or by a server whose working folder it is) cannot make runexp
// write outside the folder.
func openInPoint(env *Env, name string, flag int) (*os.File, error) {
	root, err := os.OpenRoot(env.PointDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.OpenFile(name, flag, 0o644)
}

// writeInPoint writes data to name inside the point folder (see openInPoint).
func writeInPoint(env *Env, name string, data []byte) error {
	root, err := os.OpenRoot(env.PointDir)
	if err != nil {
		return err
	}
	defer root.Close()
	return root.WriteFile(name, data, 0o644)
}

// uninterrupted returns a context that the cancellation of ctx (the first
// Ctrl-C) does not end but its deadline (the step's timeout) still does:
// stopping a server and checking that it let go of the GPU are the graceful
// part of an interrupt, and only the second Ctrl-C (which kills every
// server) may cut them short.
func uninterrupted(ctx context.Context) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(base, d)
	}
	return context.WithCancel(base)
}
