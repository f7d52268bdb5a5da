package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runexp/runexp/internal/gpu/open"
	"github.com/runexp/runexp/spec"
)

func TestValuesOrder(t *testing.T) {
	var v Values
	if v.Len() != 0 || len(v.Keys()) != 0 {
		t.Fatal("zero Values not empty")
	}
	if _, ok := v.Get("x"); ok {
		t.Fatal("Get on zero Values found something")
	}
	v.Set("b", 1)
	v.Set("a", 2)
	v.Set("c", 3)
	v.Set("b", 4) // keeps its first position, takes the last value
	if got := v.Keys(); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("Keys = %v", got)
	}
	if x, _ := v.Get("b"); x != 4 {
		t.Errorf("b = %v, want the last value 4", x)
	}
	if v.Len() != 3 {
		t.Errorf("Len = %d", v.Len())
	}
	if got := v.SortedKeys(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("SortedKeys = %v", got)
	}
	// Keys, Map and Clone are copies.
	v.Keys()[0] = "zzz"
	v.Map()["a"] = 99
	c := v.Clone()
	c.Set("a", 100)
	c.Set("d", 5)
	if x, _ := v.Get("a"); x != 2 || v.Len() != 3 || v.Keys()[0] != "b" {
		t.Errorf("original changed through a copy: %v", v.Map())
	}
	var m Values
	m.Set("c", "first")
	m.Set("z", "new")
	m.Merge(v)
	if got := m.Keys(); !slices.Equal(got, []string{"c", "z", "b", "a"}) {
		t.Errorf("Merge keys = %v", got)
	}
	if x, _ := m.Get("c"); x != 3 {
		t.Errorf("Merge c = %v, want the merged value", x)
	}
}

func TestValuesMarshalJSON(t *testing.T) {
	var v Values
	v.Set("z", 1)
	v.Set("a", "x\"y")
	v.Set("nan", math.NaN())
	v.Set("inf", math.Inf(1))
	v.Set("ninf", math.Inf(-1))
	v.Set("f32nan", float32(math.NaN()))
	v.Set("f", 1.5)
	v.Set("list", []int{1, 2})
	v.Set("nil", nil)
	v.Set("z", 2)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"z":2,"a":"x\"y","nan":null,"inf":null,"ninf":null,"f32nan":null,"f":1.5,"list":[1,2],"nil":null}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	// Through a pointer and nested in another Values.
	var outer Values
	outer.Set("row", v)
	if b, err := json.Marshal(&outer); err != nil || !strings.HasPrefix(string(b), `{"row":{"z":2,`) {
		t.Errorf("nested: %s, %v", b, err)
	}
	if b, err := json.Marshal(Values{}); err != nil || string(b) != "{}" {
		t.Errorf("empty: %s, %v", b, err)
	}
	var bad Values
	bad.Set("ch", make(chan int))
	if _, err := bad.MarshalJSON(); err == nil || !strings.Contains(err.Error(), "value ch") {
		t.Errorf("unencodable value: %v", err)
	}
}

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

func TestJSONField(t *testing.T) {
	var doc any
	json.Unmarshal([]byte(`{"object":"list","data":[{"id":"m","max_model_len":512,"tags":["a","b"]}],"n":{"x":null}}`), &doc)
	var arr any
	json.Unmarshal([]byte(`[[1,2],[3]]`), &arr)
	cases := []struct {
		doc     any
		field   string
		want    any
		wantErr string
	}{
		{doc, "data[0].max_model_len", 512.0, ""},
		{doc, "data[0].id", "m", ""},
		{doc, "data[0].tags[1]", "b", ""},
		{doc, "object", "list", ""},
		{doc, "n.x", nil, ""},
		{doc, "", doc, ""},
		{arr, "[1][0]", 3.0, ""},
		{doc, "missing", nil, `no field "missing"`},
		{doc, "data[0].nope", nil, `no field "nope"`},
		{doc, "data[1].id", nil, "no element [1]"},
		{doc, "data[-1]", nil, "no element [-1]"},
		{doc, "data[x]", nil, "no element [x]"},
		{doc, "object[0]", nil, "no element [0]"},
		{doc, "object.len", nil, "not an object"},
		{arr, "x", nil, "not an object"},
	}
	for _, c := range cases {
		got, err := JSONField(c.doc, c.field)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("JSONField(%q) error %v, want %q", c.field, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("JSONField(%q): %v", c.field, err)
			continue
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(c.want)
		if string(gb) != string(wb) {
			t.Errorf("JSONField(%q) = %s, want %s", c.field, gb, wb)
		}
	}
}

func TestLooseEqual(t *testing.T) {
	cases := []struct {
		a, b any
		want bool
	}{
		{512.0, 512, true},
		{512.0, "512", true},
		{512, 512.0, true},
		{512.0, int64(512), true},
		{512.0, uint64(512), true},
		{json.Number("512"), 512, true},
		{512.5, 512, false},
		{512.0, "513", false},
		{"abc", "abc", true},
		{"abc", "ABC", false},
		{true, "true", true},
		{true, false, false},
		{0.1, 0.1, true},
	}
	for _, c := range cases {
		if got := looseEqual(c.a, c.b); got != c.want {
			t.Errorf("looseEqual(%#v, %#v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestFailureLine(t *testing.T) {
	cases := []struct{ tail, want string }{
		{"starting\nERROR: bad thing\nshutting down\n", "ERROR: bad thing"},
		{"a\nValueError: x\nRuntimeError: y\nbye\n", "RuntimeError: y"},
		{"torch.OutOfMemoryError: CUDA Out Of Memory\ndone", "torch.OutOfMemoryError: CUDA Out Of Memory"},
		{"Traceback\nException in thread\n\n", "Exception in thread"},
		{"one\ntwo\n\n   \n", "two"},
		{"", ""},
		{"  \n \n", ""},
	}
	for _, c := range cases {
		if got := failureLine(c.tail); got != c.want {
			t.Errorf("failureLine(%q) = %q, want %q", c.tail, got, c.want)
		}
	}
	long := "error: " + strings.Repeat("x", 400)
	got := failureLine(long)
	if len(got) != 300 || !strings.HasSuffix(got, "...") {
		t.Errorf("long line: len %d, %q...", len(got), got[:20])
	}
}

func TestUtil(t *testing.T) {
	if got := envList(map[string]string{"B": "2", "A": "1"}); !slices.Equal(got, []string{"A=1", "B=2"}) {
		t.Errorf("envList %v", got)
	}
	names := Signal("").Values()
	if !slices.IsSorted(names) || !slices.Contains(names, "SIGTERM") || !slices.Contains(names, "SIGKILL") {
		t.Errorf("signalNames %v", names)
	}
	self, _ := os.Executable()
	if got := resolveProgram([]string{"runexp", "sim", "serve"}); got[0] != self || !slices.Equal(got[1:], []string{"sim", "serve"}) {
		t.Errorf("resolveProgram(runexp) = %v", got)
	}
	if got := resolveProgram([]string{"vllm", "serve"}); !slices.Equal(got, []string{"vllm", "serve"}) {
		t.Errorf("resolveProgram(vllm) = %v", got)
	}
	if got := resolveProgram(nil); got != nil {
		t.Errorf("resolveProgram(nil) = %v", got)
	}
	if got := logPath("/p", "a/b"); got != "/p/a_b.log" {
		t.Errorf("logPath = %q", got)
	}
	for x, want := range map[float64]float64{1.25: 1.3, -1.25: -1.3, 2.04: 2} {
		if got := round1(x); got != want {
			t.Errorf("round1(%v) = %v", x, got)
		}
	}
	if got := round3(1.23456); got != 1.235 {
		t.Errorf("round3 = %v", got)
	}
	if got := mib(3 << 20); got != 3 {
		t.Errorf("mib = %v", got)
	}
}

func TestReadLog(t *testing.T) {
	dir := t.TempDir()
	if _, err := readLog(filepath.Join(dir, "missing.log")); err == nil {
		t.Error("missing log read")
	}
	small := filepath.Join(dir, "small.log")
	os.WriteFile(small, []byte("hello\n"), 0o644)
	if s, err := readLog(small); err != nil || s != "hello\n" {
		t.Errorf("readLog = %q, %v", s, err)
	}
	// A log over 8 MiB: only its last 8 MiB are read.
	big := filepath.Join(dir, "big.log")
	f, _ := os.Create(big)
	f.WriteString("HEAD")
	f.Truncate(9 << 20)
	f.Seek(0, 2)
	f.WriteString("TAIL")
	f.Close()
	s, err := readLog(big)
	if err != nil || len(s) != 8<<20 || !strings.HasSuffix(s, "TAIL") || strings.HasPrefix(s, "HEAD") {
		t.Errorf("big log: len %d, err %v", len(s), err)
	}
}

func TestGPUCache(t *testing.T) {
	f, g := newFakeGPU(t)
	c := NewGPUCache(open.Opener{})
	ctx := context.Background()
	b1, err := c.Open(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := c.Open(ctx, g)
	fakesMu.Lock()
	opened := f.opened
	fakesMu.Unlock()
	if b1 != b2 || opened != 1 {
		t.Errorf("backend opened %d times, want once", opened)
	}
	devs := c.Devices(ctx)
	if len(devs) != 1 || devs[0].UUID != f.uuid {
		t.Errorf("Devices %v", devs)
	}
	if _, err := c.Open(ctx, GPUSpec{GPU: "fake", Device: "no-such-fake"}); err == nil || !strings.Contains(err.Error(), "gpu backend fake") {
		t.Errorf("bad backend error %v", err)
	}
	if _, err := c.Open(ctx, GPUSpec{GPU: "sim", SimGPU: "no-such-gpu"}); err == nil {
		t.Error("unknown sim preset opened")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if f.closed != 1 {
		t.Errorf("closed %d times", f.closed)
	}
	if len(c.Devices(ctx)) != 0 {
		t.Error("devices after Close")
	}
	// After Close the cache opens afresh.
	if _, err := c.Open(ctx, g); err != nil {
		t.Fatal(err)
	}
	c.Close()
}
