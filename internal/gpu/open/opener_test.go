package open

import (
	"context"
	"testing"

	"github.com/runexp/runexp/internal/gpu"
)

// Every backend name the spec vocabulary accepts has a constructor here, so
// a spec that validates can always be opened.
func TestEveryBackendNameHasAFactory(t *testing.T) {
	for _, name := range gpu.Names() {
		if name == gpu.Auto {
			continue
		}
		mu.RLock()
		_, ok := factories[name]
		mu.RUnlock()
		if !ok {
			t.Errorf("backend name %q validates but has no factory", name)
		}
	}
}

// Opener hands the request's device, fallback and sim preset to the
// backend's constructor.
func TestOpenerPassesTheRequestToTheFactory(t *testing.T) {
	var got Options
	Register("openerprobe", func(_ context.Context, opt Options) (gpu.Backend, error) {
		got = opt
		return Open("host", Options{})
	})
	b, err := Opener{}.Open(context.Background(), gpu.Request{Backend: "OpenerProbe", Device: "1", Fallback: "host", SimGPU: "L4"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got.Device != "1" || got.Fallback != "host" || got.SimGPU != "L4" {
		t.Errorf("factory got %+v", got)
	}
	if n, ok := gpu.Canonical("openerprobe"); !ok || n != "openerprobe" {
		t.Errorf("a registered backend does not validate: %q %v", n, ok)
	}
}
