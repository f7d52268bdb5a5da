package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCapacity(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"capacity"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func TestCapacityPrintsOneRowPerLengthAndUtilisation(t *testing.T) {
	out, stderr, code := runCapacity(t, "microsoft/Phi-3-mini-4k-instruct", "--gpu", "H100-80GB",
		"--max-model-len", "512,1024,2048,4096", "--gpu-memory-utilization", "0.9,0.92", "--format", "csv")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+8 {
		t.Fatalf("%d lines, want header + 8 rows:\n%s", len(lines), out)
	}
	// Phi-3-mini on H100 at 0.92: 175,488 tokens whatever the length (V1).
	if !strings.HasPrefix(lines[5], "H100-80GB,1,0.92,512,7.12,") || !strings.Contains(lines[5], ",175488,") {
		t.Errorf("row 0.92/512: %s", lines[5])
	}
}

func TestCapacityReportsDoesNotFitWithVLLMsMessageAndLargestLength(t *testing.T) {
	out, stderr, code := runCapacity(t, "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "custom:23.58",
		"--max-model-len", "8192,131072", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Rows []capacityRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 2 || !got.Rows[0].Fits || got.Rows[1].Fits {
		t.Fatalf("rows %+v: want 8192 to fit and 131072 not", got.Rows)
	}
	r := got.Rows[1]
	if !strings.HasPrefix(r.Failure, "To serve at least one request with the model's max seq len (131072)") ||
		r.EstimatedMaxModelLen <= 8192 || r.EstimatedMaxModelLen >= 131072 {
		t.Errorf("failure %q, largest fitting length %d", r.Failure, r.EstimatedMaxModelLen)
	}
}

func TestCapacityPlansTensorParallelAndAWQ(t *testing.T) {
	out, stderr, code := runCapacity(t, "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--tensor-parallel-size", "2",
		"--quantization", "awq", "--kv-cache-dtype", "fp8", "--max-model-len", "32768", "--format", "csv")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "\nL4,2,0.92,32768,") || !strings.Contains(out, ",true,32768,") {
		t.Errorf("TP 2 AWQ row:\n%s", out)
	}
}

func TestCapacityGPUMemoryGiBReplacesThePreset(t *testing.T) {
	a, _, _ := runCapacity(t, "Qwen/Qwen2.5-0.5B-Instruct", "--gpu-memory-gib", "40", "--max-model-len", "4096", "--format", "csv")
	b, _, _ := runCapacity(t, "Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "custom:40", "--max-model-len", "4096", "--format", "csv")
	if a != b || !strings.Contains(a, "\ncustom,1,") {
		t.Errorf("--gpu-memory-gib 40:\n%s\n--gpu custom:40:\n%s", a, b)
	}
}

func TestCapacityRejectsBadInputAsUsage(t *testing.T) {
	t.Setenv("HF_HUB_CACHE", t.TempDir()) // no/such-model is looked up there
	for _, args := range [][]string{
		{},
		{"no/such-model"},
		{"Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "TPU"},
		{"Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "4k"},
		{"Qwen/Qwen2.5-0.5B-Instruct", "--format", "yaml"},
		{"Qwen/Qwen2.5-0.5B-Instruct", "--quantization", "int3"},
	} {
		if _, stderr, code := runCapacity(t, args...); code != ExitUsage || stderr == "" {
			t.Errorf("capacity %q: exit %d, stderr %q; want %d and a message", args, code, stderr, ExitUsage)
		}
	}
}

func TestCapacityGPUFileNamesYourOwnGPU(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gpus.json")
	if err := os.WriteFile(file, []byte(`[{"name": "A40", "memory_gib": 44.35}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	a, stderr, code := runCapacity(t, "Qwen/Qwen2.5-0.5B-Instruct", "--gpu-file", file, "--gpu", "a40", "--max-model-len", "4096", "--format", "csv")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _, _ := runCapacity(t, "Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "custom:44.35", "--max-model-len", "4096", "--format", "csv")
	if !strings.Contains(a, "\nA40,1,") || strings.Replace(a, "A40", "custom", 1) != b {
		t.Errorf("--gpu-file A40:\n%s\ncustom:44.35:\n%s", a, b)
	}
}

func TestCapacityNamesTheEngineProfile(t *testing.T) {
	out, _, _ := runCapacity(t, "Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "L4", "--max-model-len", "4096", "--vllm-version", "0.10.1")
	if !strings.Contains(out, "vLLM accounting of profile 0.9.2") {
		t.Errorf("table header does not name the profile:\n%s", out)
	}
}

func TestCapacityChargesCustomAllReduceOnNVLinkBeforeV011(t *testing.T) {
	nonTorch := func(args ...string) string {
		out, stderr, code := runCapacity(t, append([]string{"meta-llama/Llama-3.1-8B-Instruct", "--tp", "2",
			"--max-model-len", "8192", "--format", "csv"}, args...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		row := strings.Split(strings.Split(strings.TrimSpace(out), "\n")[1], ",")
		return row[6] // non_torch_gib
	}
	nvlink := nonTorch("--gpu", "H100-80GB", "--vllm-version", "0.10")
	if off := nonTorch("--gpu", "H100-80GB", "--vllm-version", "0.10", "--disable-custom-all-reduce"); nvlink == off {
		t.Errorf("v0.10 H100 TP=2 non-torch %s GiB with and without custom all-reduce; want more with it", nvlink)
	}
	if pcie := nonTorch("--gpu", "L40S", "--vllm-version", "0.10"); pcie == nvlink {
		t.Errorf("v0.10 L40S TP=2 non-torch %s GiB, as much as on NVLink H100s; want custom all-reduce off on PCIe", pcie)
	}
	if newer, off := nonTorch("--gpu", "H100-80GB", "--vllm-version", "0.11"), nonTorch("--gpu", "H100-80GB", "--vllm-version", "0.11", "--disable-custom-all-reduce"); newer != off {
		t.Errorf("v0.11 H100 TP=2 non-torch %s vs %s GiB; want no charge from v0.11 (#25359)", newer, off)
	}
}

func TestCapacityChargesAllReduceFusionOnHopperFromV017(t *testing.T) {
	nonTorch := func(gpu, version string) string {
		out, stderr, code := runCapacity(t, "meta-llama/Llama-3.1-8B-Instruct", "--tp", "2", "--gpu", gpu,
			"--vllm-version", version, "--max-model-len", "8192", "--format", "csv")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return strings.Split(strings.Split(strings.TrimSpace(out), "\n")[1], ",")[6]
	}
	if h100, a100 := nonTorch("H100-80GB", "0.19"), nonTorch("A100-80GB", "0.19"); h100 == a100 {
		t.Errorf("v0.19 TP=2 non-torch H100 %s GiB, A100 %s GiB; want the fusion workspace on the H100 only", h100, a100)
	}
	if v16, v19 := nonTorch("H100-80GB", "0.16"), nonTorch("H100-80GB", "0.19"); v16 == v19 {
		t.Errorf("H100 TP=2 non-torch v0.16 %s GiB, v0.19 %s GiB; want the fusion charged from v0.17", v16, v19)
	}
}
