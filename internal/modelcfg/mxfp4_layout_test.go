package modelcfg

import "testing"

// gpt-oss-120b's shape: 36 MoE layers of 128 experts, hidden and expert
// intermediate 2880 (testdata/vllm-logs.json).
func gptOSS120bExperts(t *testing.T) Config {
	t.Helper()
	return Config{ModelType: "gpt_oss", HiddenSize: 2880, IntermediateSize: 2880, NumHiddenLayers: 36,
		NumAttentionHeads: 64, NumKeyValueHeads: 8, HeadDim: 64, VocabSize: 201088, NumExperts: 128,
		TorchDType: "bfloat16", Quantization: Quantization{Method: "mxfp4", Bits: 4}}
}

func TestMXFP4MarlinPadsExpertsToItsTileSizes(t *testing.T) {
	cfg := gptOSS120bExperts(t)
	// Marlin (A100): 2880/4 = 720 → 768 per rank, hidden 2880 → 3072.
	got := mxfp4LayoutFor("A100-80GB").expertBytes(128, 2880, 2880, 4)
	weights := int64(128 * 3 * 768 * 3072)
	want := weights/2 + weights/32 + 128*(2*768+3072)*2
	if got != want {
		t.Errorf("marlin expert bytes per layer %d, want %d (768 × 3072 padded tiles)", got, want)
	}
	a100 := RankWeightBytes(cfg, "", cfg.Quantization, 4, "A100-80GB")
	h100 := RankWeightBytes(cfg, "", cfg.Quantization, 4, "H100-80GB")
	if a100 <= h100 {
		t.Errorf("tp 4: A100 (Marlin, padded) %d B, want more than H100 (Triton, unpadded 720) %d B", a100, h100)
	}
}

func TestMXFP4TritonKeepsCheckpointScalesBesideSwizzledCopy(t *testing.T) {
	triton := mxfp4LayoutFor("H100-80GB").expertBytes(128, 2880, 2880, 1)
	weights := int64(128 * 3 * 2880 * 2880)
	// 4-bit values, two copies of one e8m0 scale per 32, float32 biases.
	want := weights/2 + 2*weights/32 + 128*(2*2880+2880)*4
	if triton != want {
		t.Errorf("triton expert bytes per layer %d, want %d", triton, want)
	}
}
