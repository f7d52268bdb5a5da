package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/runexp/runexp/spec"
)

// WaitReady polls a server until it is ready.
type WaitReady struct {
	ServerRef      `yaml:",inline"`
	URL            string        `yaml:"url" json:"url,omitempty" doc:"probe this URL instead of the server's URL + path"`
	Path           string        `yaml:"path" json:"path" doc:"probe path"`
	ExpectStatus   int           `yaml:"expect_status" json:"expect_status" doc:"HTTP status that means ready"`
	Interval       spec.Duration `yaml:"interval" json:"interval" doc:"time between probes"`
	AttemptTimeout spec.Duration `yaml:"attempt_timeout" json:"attempt_timeout" doc:"timeout of one probe"`
	JSONChecks     []JSONCheck   `yaml:"json_checks" json:"json_checks,omitempty" doc:"after the probe succeeds, JSON fields that must hold (e.g. /v1/models data[0].max_model_len)"`
}

// SetTarget records the probe URL for the plan.
func (w *WaitReady) SetTarget(launches map[string]Launcher, last string) {
	w.Target = w.URL
	if w.Target == "" {
		w.Target = targetURL(launches, last, w.Server, w.Path)
	}
}

// JSONCheck is one field of a JSON response that must equal a value.
type JSONCheck struct {
	Path   string `yaml:"path" json:"path" doc:"URL path on the server, e.g. /v1/models"`
	Field  string `yaml:"field" json:"field" doc:"field path, e.g. data[0].max_model_len"`
	Equals any    `yaml:"equals" json:"equals" doc:"expected value"`
	Record string `yaml:"record" json:"record,omitempty" doc:"also record the value under this name"`
}

func newWaitReady() Step {
	return &WaitReady{Path: "/health", ExpectStatus: 200,
		Interval: spec.Duration(500 * time.Millisecond), AttemptTimeout: spec.Duration(2 * time.Second)}
}

// Validate reports every problem of the configuration, each at its key.
func (w *WaitReady) Validate() error {
	var p spec.Problems
	if w.Interval <= 0 {
		p.Add("interval", "must be positive")
	}
	if w.AttemptTimeout <= 0 {
		p.Add("attempt_timeout", "must be positive")
	}
	if w.ExpectStatus < 100 || w.ExpectStatus > 599 {
		p.Add("expect_status", "must be an HTTP status")
	}
	if !strings.HasPrefix(w.Path, "/") {
		p.Add("path", "must start with /")
	}
	for i, c := range w.JSONChecks {
		p.Nest(fmt.Sprintf("json_checks[%d]", i), c.validate())
	}
	return p.Err()
}

// validate reports the problems of one JSON check.
func (c JSONCheck) validate() error {
	var p spec.Problems
	if c.Field == "" {
		p.Add("field", "missing")
	}
	if !strings.HasPrefix(c.Path, "/") {
		p.Add("path", "must start with /")
	}
	return p.Err()
}

// ErrExited reports that the server exited before it became ready.
var ErrExited = errors.New("server exited before it was ready")

// UsesServer names the launch wait-ready polls; without url it needs one.
func (w *WaitReady) UsesServer() (id, needs string) {
	if w.URL == "" {
		needs = "wait-ready without url"
	}
	return w.Server, needs
}

// Run polls until ready, the process exits, or ctx ends.
func (w *WaitReady) Run(ctx context.Context, env *Env) error {
	var srv *Server
	url := w.URL
	if url == "" || w.Server != "" {
		s, err := env.Server(w.Server)
		if err != nil {
			return err
		}
		srv = s
		if url == "" {
			if s.URL == "" {
				return fmt.Errorf("server %s declared no port; give wait-ready a url", s.ID)
			}
			url = s.URL + w.Path
		}
	}
	client := &http.Client{Timeout: w.AttemptTimeout.D()}
	start := time.Now()
	if srv != nil {
		start = srv.Started
	}
	// A url without server: still watch the last launched server, if any,
	// so its death ends the wait at once.
	watch := srv
	if watch == nil {
		if s, err := env.Server(""); err == nil && !s.Proc.Stopped() {
			watch = s // not one already torn down
		}
	}
	var done <-chan struct{}
	daemonised := false
	if watch != nil {
		done = watch.Proc.Done()
	}
	tick := time.NewTicker(w.Interval.D())
	defer tick.Stop()
	lastStatus := ""
	for {
		status, ok := probe(ctx, client, url, w.ExpectStatus)
		if ctx.Err() != nil {
			status = lastStatus // the probe was cut by the deadline; keep what the server last said
		}
		if status != lastStatus {
			fmt.Fprintf(env.Log, "probe %s: %s\n", url, status)
			lastStatus = status
		}
		if ok {
			break
		}
		select {
		case <-done:
			if watch.Proc.ExitErr() == nil && !serverGone(watch) {
				// The leader exited 0 but its tree lives on: a launcher that
				// daemonises. Keep probing; the tree's end is the failure.
				fmt.Fprintf(env.Log, "%s: leader exited 0, its processes go on; still probing\n", watch.ID)
				done, daemonised = nil, true
				continue
			}
			return watch.exitedBeforeReady()
		case <-ctx.Done():
			if watch != nil && errors.Is(context.Cause(ctx), ErrServerExited) {
				return watch.exitedBeforeReady() // the runner's watch saw it first
			}
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return fmt.Errorf("not ready (last probe: %s)", lastStatus)
			}
			return context.Cause(ctx)
		case <-tick.C:
			if daemonised && serverGone(watch) {
				return watch.exitedBeforeReady()
			}
		}
	}
	env.Set(w.id(srv)+"ready_s", time.Since(start).Seconds())
	for _, c := range w.JSONChecks {
		base := ""
		if srv != nil && srv.URL != "" {
			base = srv.URL
		} else if u, err := neturl.Parse(url); err == nil {
			base = u.Scheme + "://" + u.Host
		}
		if err := c.check(ctx, client, base, env); err != nil {
			return err
		}
	}
	return nil
}

// exitedBeforeReady words a server that ended before it answered.
func (s *Server) exitedBeforeReady() error {
	status, reason := exitDetails(s)
	if reason != "" {
		reason = ": " + reason
	}
	return fmt.Errorf("%w (%s: %s)%s", ErrExited, s.ID, status, reason)
}

func (w *WaitReady) id(srv *Server) string {
	if srv == nil {
		return ""
	}
	return srv.ID + "_"
}

// failureLine picks the line of a log tail that best explains a failed
// start: the last line naming an error, else the last non-empty line.
func failureLine(tail string) string {
	lines := strings.Split(strings.TrimSpace(tail), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		low := strings.ToLower(l)
		if strings.Contains(low, "error") || strings.Contains(low, "exception") || strings.Contains(low, "out of memory") {
			return truncate(l, 300)
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return truncate(l, 300)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// probe does one GET and describes the outcome.
func probe(ctx context.Context, client *http.Client, url string, want int) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error(), false
	}
	resp, err := client.Do(req)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "connection refused") {
			msg = "connection refused"
		}
		return msg, false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return "HTTP " + strconv.Itoa(resp.StatusCode), resp.StatusCode == want
}

func (c JSONCheck) check(ctx context.Context, client *http.Client, base string, env recorder) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+c.Path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("json check %s: %w", c.Path, err)
	}
	defer resp.Body.Close()
	var doc any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&doc); err != nil {
		return fmt.Errorf("json check %s: HTTP %d, body is not JSON: %v", c.Path, resp.StatusCode, err)
	}
	got, err := JSONField(doc, c.Field)
	if err != nil {
		return fmt.Errorf("json check %s %s: %w", c.Path, c.Field, err)
	}
	if c.Record != "" {
		env.Set(c.Record, got)
	}
	if c.Equals != nil && !looseEqual(got, c.Equals) {
		return fmt.Errorf("json check %s: %s is %v, expected %v", c.Path, c.Field, got, c.Equals)
	}
	return nil
}

// JSONField follows "a.b[0].c" through decoded JSON.
func JSONField(doc any, field string) (any, error) {
	cur := doc
	for _, part := range strings.Split(strings.ReplaceAll(field, "[", ".["), ".") {
		if part == "" {
			continue
		}
		if strings.HasPrefix(part, "[") {
			i, err := strconv.Atoi(strings.Trim(part, "[]"))
			arr, ok := cur.([]any)
			if err != nil || !ok || i < 0 || i >= len(arr) {
				return nil, fmt.Errorf("no element %s", part)
			}
			cur = arr[i]
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no field %q (not an object)", part)
		}
		cur, ok = obj[part]
		if !ok {
			return nil, fmt.Errorf("no field %q", part)
		}
	}
	return cur, nil
}

// looseEqual compares a JSON value with a YAML value: numbers by value,
// everything else by its text.
func looseEqual(a, b any) bool {
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	if okA && okB {
		return fa == fb
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func toFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}
