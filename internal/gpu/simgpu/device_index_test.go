package simgpu

import (
	"os"
	"testing"
)

// TestDeviceSelectsSimulatedGPUsByIndex: Device "2" reads only the servers
// on simulated GPU 2 (a server's first CUDA_VISIBLE_DEVICES), reported
// under index 2; without Device the backend is GPU 0, as before.
func TestDeviceSelectsSimulatedGPUsByIndex(t *testing.T) {
	dir := t.TempDir()
	h100, _ := LookupGPU("H100-80GB")
	writeState(t, dir, ServerState{PID: os.Getpid(), GPU: h100.Name, GPUUUID: h100.At(2).UUID(), UsedBytes: 30 << 30})
	writeState(t, dir, ServerState{PID: os.Getppid(), GPU: h100.Name, GPUUUID: h100.UUID(), UsedBytes: 10 << 30})
	if h100.At(0).UUID() != h100.UUID() || h100.At(2).UUID() == h100.UUID() {
		t.Fatalf("UUIDs: GPU 0 %s, GPU 2 %s, preset %s", h100.At(0).UUID(), h100.At(2).UUID(), h100.UUID())
	}
	for _, c := range []struct {
		device    string
		wantIndex []int
		wantUsed  []uint64
	}{
		{"", []int{0}, []uint64{10 << 30}},
		{"2", []int{2}, []uint64{30 << 30}},
		{"1,2", []int{1, 2}, []uint64{0, 30 << 30}},
	} {
		b, err := New(Options{StateDir: dir, Device: c.device})
		if err != nil {
			t.Fatal(err)
		}
		mem, err := b.Memory(t.Context())
		if err != nil || len(mem) != len(c.wantIndex) {
			t.Fatalf("device %q: Memory %+v, %v", c.device, mem, err)
		}
		for i, m := range mem {
			if m.Index != c.wantIndex[i] || m.Used != c.wantUsed[i] {
				t.Errorf("device %q: GPU %d used %d, want GPU %d used %d", c.device, m.Index, m.Used, c.wantIndex[i], c.wantUsed[i])
			}
		}
	}
	if _, err := New(Options{StateDir: dir, Device: "GPU-x"}); err == nil {
		t.Error("a non-index device was accepted")
	}
}
