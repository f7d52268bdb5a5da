package steps

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
)

// A server that ignores SIGTERM and leaves a grandchild is killed, all of it,
// after stop_grace.
func TestTeardownKillsStubbornTree(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	pidfile := filepath.Join(t.TempDir(), "grandchild.pid")
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{fakeServer, "--port", strconv.Itoa(port), "--ignore-sigterm", "--fork-grandchild", "--grandchild-pidfile", pidfile}
	l.Port = Port(port)
	l.StopGrace = spec.Duration(200 * time.Millisecond)
	if err := l.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	start := time.Now()
	if err := runWithTimeout(&Teardown{ServerRef: ServerRef{Server: "server"}}, env, 10*time.Second); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("teardown took %v", d)
	}
	if g := mustValue(t, env, "server_stop_graceful"); g != false {
		t.Errorf("server_stop_graceful %v, want false", g)
	}
	if pidAlive(grandchild) {
		t.Errorf("grandchild %d survived teardown", grandchild)
	}
	assertNoLeftovers(t, binDir)
}

func TestTeardownUnknownServer(t *testing.T) {
	env := newTestEnv(t)
	if err := (&Teardown{}).Run(context.Background(), env); err == nil {
		t.Error("teardown without a server succeeded")
	}
	env.AddServer(&Server{ID: "a"})
	if err := (&Teardown{ServerRef: ServerRef{Server: "b"}}).Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("err %v", err)
	}
}
