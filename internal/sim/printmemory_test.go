package sim

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/gpu/simgpu"
	"github.com/runexp/runexp/internal/modelcfg"
)

func TestPrintMemory(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192", "--gpu", "L4", "--print-memory"}, 0,
			[]string{"SIMULATED", "on L4", "GPU KV cache size: ", "Maximum concurrency for 8,192 tokens per request: ", "kv_pool = "}},
		{[]string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "T4", "--dtype", "float16", "--print-memory"}, 1,
			[]string{"does not fit"}},
	} {
		var out, errb syncBuffer
		code := serveArgs(context.Background(), tc.args, &out, &errb)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, out.String(), errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out.String())
			}
		}
	}
	// The printed numbers are modelcfg's prediction for the preset GPU.
	cfg, _ := modelcfg.Preset("meta-llama/Llama-3.1-8B-Instruct")
	g, _ := simgpu.LookupGPU("L4")
	p, err := modelcfg.Predict(cfg, modelcfg.PredictInput{TotalMemoryBytes: int64(g.MemoryBytes), GPUName: g.Product, MaxModelLen: 8192})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	serveArgs(context.Background(), []string{"meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192", "--gpu", "L4", "--print-memory"}, &out, &errb)
	if want := fmt.Sprintf("GPU KV cache size: %s tokens", commas(p.KVTokens)); !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}
