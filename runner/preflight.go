package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// PreflightOptions configure Preflight; the zero value checks this machine.
type PreflightOptions struct {
	GPUs     gpu.Opener                   // opens the backends the steps read; nil skips that check
	LookPath func(string) (string, error) // default exec.LookPath
	Env      func(string) (string, bool)  // default os.LookupEnv
	Timeout  time.Duration                // for opening GPU backends (default 5s)
}

// PreflightError is every problem Preflight found, each saying what to
// change in terms of the spec's own vars where one of them is the cause.
// The run should not start: it is a usage problem (exit 2), like a bad spec.
type PreflightError struct{ Err *multierror.Error }

func (e *PreflightError) Error() string {
	lines := make([]string, len(e.Err.Errors))
	for i, err := range e.Err.Errors {
		lines[i] = "  " + err.Error()
	}
	return fmt.Sprintf("preflight: %d problem(s), nothing was run:\n%s", len(lines), strings.Join(lines, "\n"))
}

func (e *PreflightError) Unwrap() error { return e.Err }

// Preflight checks, before any point runs and without writing anything,
// what a run needs of this machine: every launch and exec program resolves
// (on PATH, or an absolute path), every GPU backend a step reads opens,
// every fixed launch port is free, and every api_key_env variable is set.
// (Templates are read when the spec is compiled.) With a cluster executor
// (Plan.Executor slurm) the points run on nodes that the submit host cannot
// look at, so programs, ports and GPUs are left to each task there; only
// the environment variables are checked, since the tasks inherit the
// submitter's environment. It returns a *PreflightError listing every
// problem, or nil.
func Preflight(ctx context.Context, p *Plan, opt PreflightOptions) error {
	if opt.LookPath == nil {
		opt.LookPath = exec.LookPath
	}
	if opt.Env == nil {
		opt.Env = os.LookupEnv
	}
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	c := &preflight{plan: p, opt: opt, seen: map[string]bool{}, onNodes: p.Executor != "" && p.Executor != spec.ExecutorLocal}
	for _, sp := range p.Studies {
		sp.EachPoint(func(pt *PointPlan) bool {
			for _, st := range pt.Steps {
				c.step(ctx, st)
			}
			return true
		})
	}
	if c.errs == nil {
		return nil
	}
	return &PreflightError{Err: c.errs}
}

type preflight struct {
	plan *Plan
	opt  PreflightOptions
	seen map[string]bool // each check once per run
	errs *multierror.Error
	// onNodes: the points run on a cluster's nodes, which check their
	// programs, ports and GPUs themselves.
	onNodes bool
}

func (c *preflight) once(key string) bool {
	if c.seen[key] {
		return false
	}
	c.seen[key] = true
	return true
}

// fail records a problem; environment values (a token in an argv) are
// shown as ${env.NAME}, as everywhere the run reports.
func (c *preflight) fail(format string, args ...any) {
	c.errs = multierror.Append(c.errs, errors.New(c.plan.secrets.Text(fmt.Sprintf(format, args...))))
}

func (c *preflight) step(ctx context.Context, st *StepPlan) {
	if r, ok := st.With.(steps.Requirer); ok {
		req := r.Requirements()
		if c.onNodes {
			req.Program, req.Port = "", 0
		}
		c.program(st.ID, req.Program)
		if req.Port > 0 && c.once("port|"+req.Host+"|"+strconv.Itoa(req.Port)) {
			c.port(st.ID, req.Host, req.Port)
		}
		if req.EnvVar != "" && c.once("env|"+req.EnvVar) {
			if _, ok := c.opt.Env(req.EnvVar); !ok {
				inherit := ""
				if c.onNodes {
					inherit = fmt.Sprintf(" (the %s tasks inherit it from here)", c.plan.Executor)
				}
				c.fail("step %s: %s %s is not set in the environment; export %s=... before the run%s", st.ID, req.EnvKey, req.EnvVar, req.EnvVar, inherit)
			}
		}
	}
	if s, ok := st.With.(steps.DeviceReader); ok && !c.onNodes {
		g := s.DeviceSelection()
		if g.GPU == steps.GPUNone || c.opt.GPUs == nil || !c.once("gpu|"+g.Request().Backend+"|"+g.Device+"|"+string(g.Fallback)+"|"+g.SimGPU) {
			return
		}
		c.gpu(ctx, st.ID, g)
	}
}

// program checks that a step's program can be started.
func (c *preflight) program(stepID, name string) {
	if name == "" || !c.once("prog|"+name) {
		return
	}
	switch {
	case filepath.IsAbs(name):
		fi, err := os.Stat(name)
		if err == nil && (fi.IsDir() || fi.Mode()&0o111 == 0) {
			err = fs.ErrPermission
		}
		if err != nil {
			c.fail("step %s: %s cannot be run: %v%s", stepID, name, err, c.programHint(name))
		}
	case strings.Contains(name, "/"):
		// relative to the step's working folder, which exists only at run time
	default:
		if _, err := c.opt.LookPath(name); err != nil {
			c.fail("step %s: %s not found on PATH%s", stepID, name, c.programHint(name))
		}
	}
}

// port checks that a fixed port is free.
func (c *preflight) port(stepID, host string, port int) {
	err := proc.CheckPortFree(host, port)
	if err == nil {
		return
	}
	hint := "; stop what holds it, or use port: auto"
	if v, via := c.varWithValue(strconv.Itoa(port), false); v != "" {
		hint = fmt.Sprintf(" (var %s); choose another with --set %s=N, or stop what holds it", c.describe(v, via), v)
	}
	c.fail("step %s: %v%s", stepID, err, hint)
}

// gpu checks that a backend opens (and closes it again).
func (c *preflight) gpu(ctx context.Context, stepID string, g steps.GPUSpec) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	b, err := c.opt.GPUs.Open(ctx, g.Request())
	if err == nil {
		b.Close()
		return
	}
	name := string(g.GPU)
	if name == "" {
		name = "auto"
	}
	hint := ""
	if v, via := c.varWithValue(name, false); v != "" {
		hint = " (var " + c.describe(v, via) + ")" + c.alternatives(v, via, nil, "gpu backend ")
		if via == "" && name != "host" {
			hint += fmt.Sprintf("; to read host memory instead: --set %s=host", v)
		}
	}
	if hint == "" || !strings.Contains(hint, "--set") {
		hint += "; or add fallback: host to read host memory instead"
	}
	c.fail("step %s: gpu backend %s does not open: %v%s", stepID, name, err, hint)
}

// programHint says which var put name into argv and what to set instead.
func (c *preflight) programHint(name string) string {
	v, via := c.varWithValue(name, true)
	if v == "" {
		return "; install it or give its absolute path"
	}
	alt := c.alternatives(v, via, func(n *yaml.Node) bool {
		first := firstScalar(n)
		if first == "runexp" {
			return true
		}
		_, err := c.opt.LookPath(first)
		return err == nil
	}, "")
	if alt == "" {
		if via == "" {
			alt = fmt.Sprintf("; install it, or --set %s=/path/to/%s", v, filepath.Base(name))
		} else {
			alt = "; install it"
		}
	}
	return " (var " + c.describe(v, via) + ")" + alt
}

// varWithValue finds the var whose value is value (or, with first, whose
// list value starts with it): a select var (whose chooser is returned as
// via, since that is what a user sets), else a plain var.
func (c *preflight) varWithValue(value string, first bool) (name, via string) {
	declared := slices.Clone(c.plan.declared)
	slices.SortStableFunc(declared, func(a, b spec.Var) int {
		return cmp.Compare(boolInt(a.Select == ""), boolInt(b.Select == ""))
	})
	for _, v := range declared {
		n := c.current(v.Name)
		if n == nil {
			continue
		}
		s := firstScalar(n)
		if s != value || (!first && n.Kind != yaml.ScalarNode) {
			continue
		}
		return v.Name, v.Select
	}
	return "", ""
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// current is the var's value in this run.
func (c *preflight) current(name string) *yaml.Node {
	for _, nv := range c.plan.Vars {
		if nv.Name == name {
			var n yaml.Node
			if err := n.Encode(nv.Value); err == nil {
				return &n
			}
		}
	}
	return nil
}

// describe renders "engine=vllm" for a var chosen by engine, or
// "port=8000" for a plain var.
func (c *preflight) describe(name, via string) string {
	if via != "" {
		name = via
	}
	return name + "=" + joinScalars(c.current(name))
}

// alternatives lists, for a select var, the other cases of its chooser
// (those ok accepts) as --set lines.
func (c *preflight) alternatives(name, via string, ok func(*yaml.Node) bool, what string) string {
	if via == "" {
		return ""
	}
	v, found := c.plan.declared.Lookup(name)
	if !found {
		return ""
	}
	chosen := firstScalar(c.current(via))
	var out []string
	for _, cs := range v.Cases {
		if cs.Key == chosen || (ok != nil && !ok(cs.Value)) {
			continue
		}
		use := "to use " + what + joinScalars(cs.Value)
		if firstScalar(cs.Value) == "runexp" && len(cs.Value.Content) > 1 && cs.Value.Content[1].Value == "sim" {
			use = "to use the built-in simulator"
		}
		out = append(out, fmt.Sprintf("%s: --set %s=%s", use, via, cs.Key))
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}

// firstScalar is a scalar's value or a list's first item.
func firstScalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			return ""
		}
		return n.Content[0].Value
	}
	return n.Value
}

func joinScalars(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.SequenceNode {
		return n.Value
	}
	parts := make([]string, len(n.Content))
	for i, item := range n.Content {
		parts[i] = item.Value
	}
	return strings.Join(parts, " ")
}
