package modelcfg

import "testing"

func TestProfileSelectsTheReleaseRange(t *testing.T) {
	for v, want := range map[string]string{
		"": "0.21", "latest": "0.21", "v0.24.0": "0.21", "0.21": "0.21", "0.20.1": "0.18", "0.17.1": "0.17", "0.16.0": "0.11",
		"0.11.0": "0.11", "0.10.1.dev12+g1234": "0.9.2", "0.9.2": "0.9.2", "0.9.1": "0.9.1", "0.9.0.1": "0.8",
		"0.8.5.post1": "0.8", "0.7.3": "0.6.5", "0.6.6": "0.6.5", "0.6.4": "0.5", "0.4.0": "0.5",
	} {
		p, err := Profile(v)
		if err != nil || p.Name != want {
			t.Errorf("Profile(%q) = %q, %v; want %q", v, p.Name, err, want)
		}
	}
	if _, err := Profile("next"); err == nil {
		t.Error("Profile(next): want an error")
	}
}

func TestPredictOlderEngineActivationGrowsWithMaxModelLen(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	at := func(version string, l int) Prediction {
		p, err := Predict(llama, PredictInput{TotalMemoryBytes: 2358 * GiB / 100, MaxModelLen: l, VLLMVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if a, b := at("0.6.6", 20000), at("0.6.6", 29000); b.ActivationPeakBytes <= a.ActivationPeakBytes || b.KVPoolBytes >= a.KVPoolBytes {
		t.Errorf("V0: activation %d → %d, pool %d → %d from 20k to 29k; want growth and shrink", a.ActivationPeakBytes, b.ActivationPeakBytes, a.KVPoolBytes, b.KVPoolBytes)
	}
	if a, b := at("0.11", 20000), at("0.11", 29000); a.ActivationPeakBytes != b.ActivationPeakBytes {
		t.Errorf("V1: activation %d vs %d; want independent of max_model_len", a.ActivationPeakBytes, b.ActivationPeakBytes)
	}
}

func TestPredictEngineBeforeV021KeepsGraphsOutsideTheBudget(t *testing.T) {
	phi := mustPreset(t, "Phi-3-mini-4k-instruct")
	newest, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, GPUMemoryUtilization: 0.9})
	old, err := Predict(phi, PredictInput{TotalMemoryBytes: h100, GPUMemoryUtilization: 0.9, VLLMVersion: "0.20"})
	if err != nil {
		t.Fatal(err)
	}
	if old.CUDAGraphInBudget || old.KVPoolBytes-newest.KVPoolBytes != newest.CUDAGraphBytes {
		t.Errorf("v0.20 pool %d, v0.21 pool %d, graphs %d; want the graphs outside v0.20's budget", old.KVPoolBytes, newest.KVPoolBytes, newest.CUDAGraphBytes)
	}
	if def, _ := Predict(phi, PredictInput{TotalMemoryBytes: h100, VLLMVersion: "0.11"}); def.GPUMemoryUtilization != 0.9 {
		t.Errorf("v0.11 default utilisation %.2f, want 0.90", def.GPUMemoryUtilization)
	}
}

func TestPredictReleaseChangesMovePoolAsLogged(t *testing.T) {
	qwen := mustPreset(t, "Llama-3.1-8B-Instruct")
	at := func(version string) Prediction {
		p, err := Predict(qwen, PredictInput{TotalMemoryBytes: h100, GPUMemoryUtilization: 0.95, MaxModelLen: 8192, VLLMVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	v16, v17, v18 := at("0.16"), at("0.17"), at("0.18")
	if v17.ActivationPeakBytes >= v16.ActivationPeakBytes/2 {
		t.Errorf("activation v0.16 %d, v0.17 %d; want the v0.17 sampler peak well under half", v16.ActivationPeakBytes, v17.ActivationPeakBytes)
	}
	if v18.NonTorchBytes <= v17.NonTorchBytes {
		t.Errorf("non-torch v0.17 %d, v0.18 %d; want more from v0.18", v17.NonTorchBytes, v18.NonTorchBytes)
	}
}

func TestPredictOlderEnginesChargeCustomAllReduceBuffersAtInit(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	nonTorch := func(version string, customAR bool) int64 {
		p, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192, TensorParallelSize: 2, VLLMVersion: version, CustomAllReduce: customAR})
		if err != nil {
			t.Fatal(err)
		}
		return p.NonTorchBytes
	}
	if on, off := nonTorch("0.10", true), nonTorch("0.10", false); on-off != CustomAllReduceInitBytes {
		t.Errorf("v0.10 TP=2 non-torch %d with custom all-reduce, %d without; want %d more", on, off, CustomAllReduceInitBytes)
	}
	if on, off := nonTorch("0.11", true), nonTorch("0.11", false); on != off {
		t.Errorf("v0.11 TP=2 non-torch %d with custom all-reduce, %d without; want equal (#25359)", on, off)
	}
}

func TestPredictAllReduceFusionChargedFromV017WhereItRuns(t *testing.T) {
	llama := mustPreset(t, "Llama-3.1-8B-Instruct")
	nonTorch := func(version string, tp int, fusion bool) int64 {
		p, err := Predict(llama, PredictInput{TotalMemoryBytes: h100, MaxModelLen: 8192, TensorParallelSize: tp, VLLMVersion: version, AllReduceFusion: fusion})
		if err != nil {
			t.Fatal(err)
		}
		return p.NonTorchBytes
	}
	if on, off := nonTorch("0.19", 2, true), nonTorch("0.19", 2, false); on-off != AllReduceFusionBytes {
		t.Errorf("v0.19 TP=2 non-torch %d with the fusion, %d without; want %d more", on, off, AllReduceFusionBytes)
	}
	if on, off := nonTorch("0.16", 2, true), nonTorch("0.16", 2, false); on != off {
		t.Errorf("v0.16 TP=2 non-torch %d vs %d; want the fusion off before v0.17", on, off)
	}
	if on, off := nonTorch("0.19", 1, true), nonTorch("0.19", 1, false); on != off {
		t.Errorf("v0.19 TP=1 non-torch %d vs %d; want no all-reduce at TP=1", on, off)
	}
}
