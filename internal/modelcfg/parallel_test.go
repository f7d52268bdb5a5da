package modelcfg

import (
	"strings"
	"testing"
)

func TestPredictTensorParallelSplitsWeightsAndKVHeadsPerRank(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	one, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192})
	if err != nil {
		t.Fatal(err)
	}
	two, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192, TensorParallelSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if two.KVHeadsPerGPU != 4 || two.KVBytesPerToken*2 != one.KVBytesPerToken {
		t.Errorf("tp 2: %d KV heads, %d B/token; want 4 heads and half of %d", two.KVHeadsPerGPU, two.KVBytesPerToken, one.KVBytesPerToken)
	}
	// Every weight except the (replicated) norms is split: half, within 0.1 %.
	if half := one.WeightsBytes / 2; two.WeightsBytes < half || float64(two.WeightsBytes) > float64(half)*1.001 {
		t.Errorf("tp 2 weights %d, want about half of %d", two.WeightsBytes, one.WeightsBytes)
	}
	// More than twice the tokens: each rank frees half the weights and
	// stores half of each token.
	if two.KVTokens <= 2*one.KVTokens {
		t.Errorf("tp 2 tokens %d, want > 2 × %d", two.KVTokens, one.KVTokens)
	}
	if two.NonTorchBytes <= one.NonTorchBytes {
		t.Errorf("tp 2 non-torch %d, want more than tp 1's %d (communication buffers)", two.NonTorchBytes, one.NonTorchBytes)
	}
}

func TestPredictReplicatesKVHeadsWhenFewerThanRanks(t *testing.T) {
	qwen := mustPreset(t, "Qwen2.5-0.5B-Instruct") // 14 heads, 2 KV heads
	p, err := Predict(qwen, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 4096, TensorParallelSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if p.KVHeadsPerGPU != 1 {
		t.Errorf("tp 7 over 2 KV heads: %d heads per rank, want 1 (replicated)", p.KVHeadsPerGPU)
	}
	if want := int64(24 * 2 * 1 * 64 * 2); p.KVBytesPerToken != want {
		t.Errorf("bytes per token %d, want %d", p.KVBytesPerToken, want)
	}
}

func TestPredictRejectsTensorParallelThatDoesNotDivideHeads(t *testing.T) {
	_, err := Predict(mustPreset(t, "Qwen2.5-0.5B-Instruct"), PredictInput{TotalMemoryBytes: h100, TensorParallelSize: 4})
	if err == nil || !strings.Contains(err.Error(), "divisible by tensor parallel size (4)") {
		t.Errorf("err = %v, want vLLM's divisibility error", err)
	}
}

func TestPredictPlansAWQWeightsAtFourBitsWithSixteenBitEmbeddings(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	p, err := Predict(llama, PredictInput{TotalMemoryBytes: 2219 * GiB / 100, MaxModelLen: 8192, Quantization: "awq"})
	if err != nil {
		t.Fatal(err)
	}
	// 2 × 128256 × 4096 16-bit embedding rows (1.96 GiB) + ~6.98 G linear
	// weights × (0.5 + 2.5/128) B: 5.33 GiB; public AWQ checkpoints of this
	// model load as about 5.4 GiB.
	if g := float64(p.WeightsBytes) / float64(GiB); g < 5.2 || g > 5.5 {
		t.Errorf("AWQ weights %.2f GiB, want about 5.33", g)
	}
	if !p.Fits || p.Quantization != "awq" {
		t.Errorf("AWQ Llama-8B on a 22 GiB GPU at 8k: fits %v (%s), quantization %q", p.Fits, p.Failure, p.Quantization)
	}
}

func TestBitsAndBytesStatisticsStayDoubleQuantizedBeforeV092(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	weights := func(version string) float64 {
		p, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192, Quantization: "bitsandbytes", VLLMVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		return float64(p.WeightsBytes) / float64(GiB)
	}
	// vLLM quantizes on load with compress_statistics=True; #19742 (≈v0.9.2)
	// expands the statistics to fp32 at load. A v0.5.4 log of this model
	// (kaitchup, in testdata) took 5.34 GiB.
	old, now := weights("0.5.4"), weights("0.11")
	if old < 5.25 || old > 5.4 {
		t.Errorf("v0.5.4 bitsandbytes weights %.3f GiB, want about 5.34 (double-quantized statistics)", old)
	}
	// ~6.98 G linear weights × (4/64 − 1/64 − 4/16384) B ≈ 0.32 GiB more
	if d := now - old; d < 0.29 || d > 0.35 {
		t.Errorf("v0.11 − v0.5.4 weights %.3f GiB, want about 0.32 (fp32 absmax per 64 weights)", d)
	}
}

func TestParseReadsQuantizationConfig(t *testing.T) {
	for _, tc := range []struct {
		json string
		want Quantization
	}{
		{`"quantization_config": {"bits": 4, "group_size": 128, "quant_method": "awq", "version": "gemm", "zero_point": true}`, Quantization{Method: "awq", Bits: 4, GroupSize: 128}},
		{`"quantization_config": {"bits": 4, "group_size": -1, "desc_act": false, "quant_method": "gptq"}`, Quantization{Method: "gptq", Bits: 4, GroupSize: -1}},
		{`"quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}`, Quantization{Method: "fp8", Bits: 8, GroupSize: 0}},
		{`"quantization_config": {"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": 128, "type": "int"}}}}`, Quantization{Method: "gptq", Bits: 4, GroupSize: 128}},
		{`"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_use_double_quant": true, "bnb_4bit_quant_type": "nf4"}`, Quantization{Method: "bitsandbytes", Bits: 4, DoubleQuant: true}},
		// W8A8 int8 checkpoints (e.g. RedHatAI's quantized.w8a8) scale per output channel, not per 128 weights.
		{`"quantization_config": {"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 8, "group_size": null, "strategy": "channel", "type": "int"}}}}`, Quantization{Method: "gptq", Bits: 8, GroupSize: -1}},
	} {
		c, err := Parse([]byte(`{"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 64, "vocab_size": 100, ` + tc.json + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if c.Quantization != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.json, c.Quantization, tc.want)
		}
	}
}

func TestPredictFP8KVCacheHalvesBytesPerToken(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	auto, _ := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192})
	fp8, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192, KVCacheDType: "fp8_e5m2"})
	if err != nil {
		t.Fatal(err)
	}
	if fp8.KVBytesPerToken*2 != auto.KVBytesPerToken || fp8.KVTokens < 2*auto.KVTokens-16 {
		t.Errorf("fp8: %d B/token, %d tokens; auto %d B/token, %d tokens", fp8.KVBytesPerToken, fp8.KVTokens, auto.KVBytesPerToken, auto.KVTokens)
	}
}
