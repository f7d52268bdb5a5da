package steps

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runexp/runexp/spec"
)

// plantLink makes name in the point folder a symbolic link to a file
// outside the run, as an exec step or a server could, and returns the
// target, which must stay untouched.
func plantLink(t *testing.T, env *Env, name string) string {
	t.Helper()
	target := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(env.PointDir, name)); err != nil {
		t.Fatal(err)
	}
	return target
}

func assertUntouched(t *testing.T, target string) {
	t.Helper()
	b, err := os.ReadFile(target)
	if err != nil || string(b) != "precious\n" {
		t.Errorf("the file outside the run was written through the link: %q, %v", b, err)
	}
}

// TestExecLogIsNotWrittenThroughAPlantedLink
func TestExecLogIsNotWrittenThroughAPlantedLink(t *testing.T) {
	env := newTestEnv(t)
	target := plantLink(t, env, "job.log")
	x := newExec().(*Exec)
	x.SetID("job")
	x.Command = []string{"echo", "written"}
	err := x.Run(context.Background(), env)
	if err == nil {
		t.Error("exec wrote its log through a link that leaves the point folder")
	}
	assertUntouched(t, target)
}

// TestLaunchLogIsNotWrittenThroughAPlantedLink
func TestLaunchLogIsNotWrittenThroughAPlantedLink(t *testing.T) {
	env := newTestEnv(t)
	target := plantLink(t, env, "server.log")
	l := newLaunch().(*Launch)
	l.SetID("server")
	l.Command = []string{"echo", "written"}
	l.StopGrace = spec.Duration(time.Second)
	if err := l.Run(context.Background(), env); err == nil {
		t.Error("launch wrote its log through a link that leaves the point folder")
	}
	time.Sleep(100 * time.Millisecond)
	assertUntouched(t, target)
}

// TestRequestsFileIsNotWrittenThroughAPlantedLink
func TestRequestsFileIsNotWrittenThroughAPlantedLink(t *testing.T) {
	env := newTestEnv(t)
	port := freePort(t)
	launch(t, env, "server", port)
	if err := runWithTimeout(fastWait(), env, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ld := newLoad().(*Load)
	ld.SetID("load")
	ld.Model = "fake-model"
	ld.Modes = []LoadMode{{Kind: "sequential", Requests: 2}}
	target := plantLink(t, env, ld.Requests)
	if err := ld.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runWithTimeout(ld, env, 30*time.Second); err == nil {
		t.Error("load wrote requests through a link that leaves the point folder")
	}
	assertUntouched(t, target)
}
