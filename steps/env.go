package steps

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/internal/results"
	"github.com/runexp/runexp/spec"
)

// Env is everything a running step may use at one sweep point. The runner
// builds one per point.
type Env struct {
	RunDir   string // the run directory
	StudyDir string // the study's folder in it
	PointDir string // this point's folder: logs and results
	SpecDir  string // the spec file's folder: relative input files resolve here
	Study    string
	Point    spec.Point
	Log      io.Writer // human progress output
	GPUs     *GPUCache // backends opened once per run (set by the runner)

	mu       sync.Mutex
	servers  map[string]*Server
	order    []string // server ids in launch order
	values   Values
	tables   map[string][]Values
	cleanups []cleanup
	shared   map[string]any
}

type cleanup struct {
	name string
	fn   func(ctx context.Context) error
}

// NewEnv returns an empty Env for one point.
func NewEnv(runDir, studyDir, pointDir, study string, p spec.Point, log io.Writer) *Env {
	if log == nil {
		log = io.Discard
	}
	return &Env{RunDir: runDir, StudyDir: studyDir, PointDir: pointDir, Study: study, Point: p, Log: log,
		servers: map[string]*Server{}, tables: map[string][]Values{}, shared: map[string]any{}}
}

// Server is a process started by a launch step.
type Server struct {
	ID      string
	Proc    *proc.Process
	Host    string
	Port    int
	URL     string // http://host:port, or "" when no port was declared
	LogPath string
	Started time.Time
}

// AddServer records a launched server under its step id.
func (e *Env) AddServer(s *Server) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.servers[s.ID] = s
	e.order = append(e.order, s.ID)
}

// Server returns the server launched by step id; an empty id means the only
// (or the most recently launched) server.
func (e *Env) Server(id string) (*Server, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id == "" {
		if len(e.order) == 0 {
			return nil, fmt.Errorf("no server has been launched at this point")
		}
		return e.servers[e.order[len(e.order)-1]], nil
	}
	s, ok := e.servers[id]
	if !ok {
		return nil, fmt.Errorf("no server launched by a step %q at this point (launched: %s)", id, strings.Join(e.order, ", "))
	}
	return s, nil
}

// Servers returns the launched servers in launch order.
func (e *Env) Servers() []*Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Server, 0, len(e.order))
	for _, id := range e.order {
		out = append(out, e.servers[id])
	}
	return out
}

// Set records a named value in the point's result row (CSV columns,
// templates). Setting a name twice keeps the last value.
func (e *Env) Set(name string, v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.values.Set(name, v)
}

// Value returns a recorded value.
func (e *Env) Value(name string) (any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.values.Get(name)
}

// Values returns a copy of the point's recorded values.
func (e *Env) Values() Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.values.Clone()
}

// Append adds a row to a named table (e.g. "load.summary"); rows of every
// point of a study end up in one table, each prefixed by the runner with the
// point's id and sweep values.
func (e *Env) Append(table string, row Values) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tables[table] = append(e.tables[table], row)
}

// Tables returns the point's tables.
func (e *Env) Tables() map[string][]Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string][]Values, len(e.tables))
	for k, v := range e.tables {
		out[k] = append([]Values(nil), v...)
	}
	return out
}

// Shared is scratch space for steps that cooperate at a point (a measure
// step's baseline read by a later one, a running sampler).
func (e *Env) Shared(key string) (any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.shared[key]
	return v, ok
}

// SetShared stores scratch state.
func (e *Env) SetShared(key string, v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shared[key] = v
}

// Defer registers fn to run when the point ends (last in, first out), after
// success, failure, timeout or interrupt, on a context that the interrupt
// does not cancel.
func (e *Env) Defer(name string, fn func(ctx context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, cleanup{name, fn})
}

// CleanupError is one failed cleanup.
type CleanupError struct {
	Name string
	Err  error
}

func (c *CleanupError) Error() string { return "cleanup " + c.Name + ": " + c.Err.Error() }
func (c *CleanupError) Unwrap() error { return c.Err }

// RunCleanups runs the deferred functions LIFO, each on ctx, and returns
// their errors (every one runs even if another fails). The stack is emptied,
// so a second call does nothing.
func (e *Env) RunCleanups(ctx context.Context) []error {
	e.mu.Lock()
	list := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	var errs []error
	for i := len(list) - 1; i >= 0; i-- {
		if err := list[i].fn(ctx); err != nil {
			errs = append(errs, &CleanupError{Name: list[i].name, Err: err})
		}
	}
	return errs
}

// LogTail returns the last lines of the most recently launched server's log,
// for failure reports.
func (e *Env) LogTail(lines int) string {
	servers := e.Servers()
	if len(servers) == 0 {
		return ""
	}
	return proc.Tail(servers[len(servers)-1].LogPath, lines)
}

// Values is an ordered set of named values (a result row); the type lives in
// the results package, which owns the result model.
type Values = results.Values
