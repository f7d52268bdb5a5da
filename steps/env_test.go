package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runexp/runexp/spec"
)

func TestEnvValuesAndTables(t *testing.T) {
	env := NewEnv("r", "s", "p", "study", spec.Point{}, nil)
	if env.Log == nil {
		t.Fatal("nil log not replaced")
	}
	env.Set("a", 1)
	env.Set("b", 2)
	env.Set("a", 3)
	if got := env.Values().Keys(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("keys %v", got)
	}
	if v, ok := env.Value("a"); !ok || v != 3 {
		t.Errorf("a = %v %v", v, ok)
	}
	vals := env.Values()
	vals.Set("c", 4)
	if _, ok := env.Value("c"); ok {
		t.Error("Values() is not a copy")
	}
	var row Values
	row.Set("x", 1)
	env.Append("t", row)
	env.Append("t", row)
	tabs := env.Tables()
	if len(tabs["t"]) != 2 {
		t.Fatalf("table t has %d rows", len(tabs["t"]))
	}
	tabs["t"] = nil
	if len(env.Tables()["t"]) != 2 {
		t.Error("Tables() is not a copy")
	}
	env.SetShared("k", 42)
	if v, ok := env.Shared("k"); !ok || v != 42 {
		t.Errorf("shared %v %v", v, ok)
	}
	if _, ok := env.Shared("missing"); ok {
		t.Error("missing shared key found")
	}
}

func TestEnvConcurrentUse(t *testing.T) {
	env := NewEnv("", "", "", "", spec.Point{}, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				env.Set(fmt.Sprintf("v%d", i), j)
				var r Values
				r.Set("j", j)
				env.Append("t", r)
				env.Defer("c", func(context.Context) error { return nil })
				_ = env.Values()
				_ = env.Tables()
			}
		}()
	}
	wg.Wait()
	if n := env.Values().Len(); n != 8 {
		t.Errorf("%d values", n)
	}
	if n := len(env.Tables()["t"]); n != 800 {
		t.Errorf("%d rows", n)
	}
	if errs := env.RunCleanups(context.Background()); len(errs) != 0 {
		t.Error(errs)
	}
}

func TestEnvCleanups(t *testing.T) {
	env := NewEnv("", "", "", "", spec.Point{}, nil)
	var order []string
	boom := errors.New("boom")
	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	for _, name := range []string{"first", "second", "third"} {
		env.Defer(name, func(c context.Context) error {
			if c.Value(ctxKey{}) != "v" {
				t.Errorf("%s: cleanup did not get the RunCleanups context", name)
			}
			order = append(order, name)
			if name == "second" {
				return boom
			}
			return nil
		})
	}
	errs := env.RunCleanups(ctx)
	if !slices.Equal(order, []string{"third", "second", "first"}) {
		t.Errorf("order %v, want LIFO", order)
	}
	if len(errs) != 1 {
		t.Fatalf("errors %v", errs)
	}
	var ce *CleanupError
	if !errors.As(errs[0], &ce) || ce.Name != "second" || !errors.Is(errs[0], boom) {
		t.Errorf("error %v", errs[0])
	}
	if errs[0].Error() != "cleanup second: boom" {
		t.Errorf("message %q", errs[0])
	}
	order = nil
	if errs := env.RunCleanups(ctx); len(errs) != 0 || len(order) != 0 {
		t.Errorf("second RunCleanups ran %v, errors %v", order, errs)
	}
	// A cleanup may register another; it runs on the next call, not lost.
	env.Defer("outer", func(context.Context) error {
		env.Defer("inner", func(context.Context) error { order = append(order, "inner"); return nil })
		return nil
	})
	env.RunCleanups(ctx)
	env.RunCleanups(ctx)
	if !slices.Equal(order, []string{"inner"}) {
		t.Errorf("nested cleanup: %v", order)
	}
}

func TestEnvServers(t *testing.T) {
	dir := t.TempDir()
	env := NewEnv("", "", dir, "", spec.Point{}, nil)
	if _, err := env.Server(""); err == nil || !strings.Contains(err.Error(), "no server has been launched") {
		t.Errorf("no servers: %v", err)
	}
	if env.LogTail(5) != "" {
		t.Error("LogTail without a server")
	}
	logB := filepath.Join(dir, "b.log")
	os.WriteFile(logB, []byte("one\ntwo\nthree\n"), 0o644)
	a := &Server{ID: "a"}
	b := &Server{ID: "b", LogPath: logB}
	env.AddServer(a)
	env.AddServer(b)
	if s, err := env.Server(""); err != nil || s != b {
		t.Errorf("Server(\"\") = %v, %v; want the last launched", s, err)
	}
	if s, err := env.Server("a"); err != nil || s != a {
		t.Errorf("Server(a) = %v, %v", s, err)
	}
	_, err := env.Server("x")
	if err == nil || !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), "launched: a, b") {
		t.Errorf("unknown server error %v", err)
	}
	if got := env.Servers(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("Servers = %v", got)
	}
	if tail := env.LogTail(2); !strings.Contains(tail, "three") || strings.Contains(tail, "one") {
		t.Errorf("LogTail(2) = %q", tail)
	}
}
