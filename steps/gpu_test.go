package steps

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/gpu/open"
)

// recordingOpener is a gpu.Opener that hands out one fake backend and
// remembers what it was asked for.
type recordingOpener struct {
	requests []gpu.Request
	backend  gpu.Backend
}

var _ gpu.Opener = (*recordingOpener)(nil)

func (o *recordingOpener) Open(_ context.Context, r gpu.Request) (gpu.Backend, error) {
	o.requests = append(o.requests, r)
	if o.backend == nil {
		return nil, errors.New("no backend")
	}
	return o.backend, nil
}

// The cache opens backends only through the opener it was given, passing
// the spec's GPU block as the request, once per distinct block.
func TestGPUCacheOpensThroughTheInjectedOpenerOncePerBlock(t *testing.T) {
	f, _ := newFakeGPU(t)
	o := &recordingOpener{backend: f}
	c := NewGPUCache(o)
	defer c.Close()
	spec := GPUSpec{GPU: "custom", Device: "3", Fallback: "host", SimGPU: "L4"}
	for i := 0; i < 2; i++ {
		if _, err := c.Open(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
	}
	want := gpu.Request{Backend: "custom", Device: "3", Fallback: "host", SimGPU: "L4"}
	if len(o.requests) != 1 || o.requests[0] != want {
		t.Errorf("opener asked %+v, want once %+v", o.requests, want)
	}
}

// Without an opener the cache reports that none was configured instead of
// opening a backend on its own.
func TestGPUCacheWithoutOpenerSaysSo(t *testing.T) {
	_, err := NewGPUCache(nil).Open(context.Background(), GPUSpec{GPU: "host"})
	if err == nil || !strings.Contains(err.Error(), "no GPU backend opener") {
		t.Errorf("err %v", err)
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
