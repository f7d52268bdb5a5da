package smi

import (
	"context"
	"strings"
	"testing"
)

// TestReview4UnknownMemoryUsedIsAnError: nvidia-smi prints memory.used as
// "[N/A]" / "[Not Supported]" / "[Unknown Error]" where it cannot read it
// (e.g. unified-memory GPUs such as GB10, a GPU in a bad state — the T4 row
// of testdata/query-gpu-na-fields.csv). ParseGPUs keeps that as -1, but
// Backend.Memory (memoryOf, internal/gpu/smi/smi.go mibBytes) turns it into
// Used 0 with no error. The measure step then records gpu_mem_used_mb 0,
// and release-check compares 0 with the baseline and reports the memory
// as released at once, whatever the GPU holds. The NVML backend fails in
// the same situation (GetMemoryInfo returns NOT_SUPPORTED → error).
// Correct: Memory returns an error naming the device when memory.used (or
// memory.total) is unknown, instead of a used reading of 0 bytes.
func TestReview4UnknownMemoryUsedIsAnError(t *testing.T) {
	ctx := context.Background()
	for _, na := range []string{"[N/A]", "[Not Supported]", "[Unknown Error]"} {
		run := func(ctx context.Context, args ...string) ([]byte, error) {
			return []byte("0, GPU-0d6e2a1c-9f4b-4c11-8e77-1a2b3c4d5e6f, NVIDIA GB10, 122502, " + na + ", " + na + ", [N/A], 96, 30.1, 2418, 580.95.05\n"), nil
		}
		b, err := New(ctx, Options{Run: run})
		if err != nil {
			t.Fatal(err)
		}
		mem, err := b.Memory(ctx)
		if err == nil {
			t.Errorf("memory.used %s: Memory returned %+v and no error; used reads %d bytes", na, mem, mem[0].Used)
		} else if !strings.Contains(err.Error(), "memory") {
			t.Errorf("memory.used %s: error %q does not say what is unknown", na, err)
		}
	}
}
