package modelcfg

import "testing"

// vLLM checks that one max_model_len request fits the *profiled* available
// memory (check_enough_kv_cache_memory) before get_num_blocks applies
// --num-gpu-blocks-override, so a small override (the flag exists "for
// testing preemption") still starts; Predict checks the profiled pool too.
func TestOverrideCheckedAgainstProfiledMemory(t *testing.T) {
	phi := mustPreset(t, "microsoft/Phi-3-mini-4k-instruct")
	in := PredictInput{TotalMemoryBytes: 85_020_000_000, MaxModelLen: 4096}
	base, err := Predict(phi, in)
	if err != nil || !base.Fits {
		t.Fatalf("baseline does not fit: %v %s", err, base.Failure)
	}
	in.NumGPUBlocksOverride = 100 // < cdiv(4096,16)+1 = 257 blocks of one request
	p, err := Predict(phi, in)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Fits {
		t.Errorf("override 100 blocks: Fits=false (%s); vLLM starts because the check uses the %.2f GiB profiled pool", p.Failure, float64(base.KVPoolBytes)/float64(GiB))
	}
}

// With --num-gpu-blocks-override vLLM allocates override × block bytes, so
// ExpectedUsedBytes counts NumBlocks × BlockBytes (as the simulator's state
// file does), not the whole profiled pool.
func TestExpectedUsedFollowsOverride(t *testing.T) {
	phi := mustPreset(t, "microsoft/Phi-3-mini-4k-instruct")
	p, err := Predict(phi, PredictInput{TotalMemoryBytes: 85_020_000_000, MaxModelLen: 1024, NumGPUBlocksOverride: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := p.NonKVBytes + p.NumBlocks*p.BlockBytes + CUDAContextBytes
	if d := p.ExpectedUsedBytes - want; d > p.BlockBytes || d < -p.BlockBytes {
		t.Errorf("ExpectedUsedBytes %.2f GiB, allocated %.2f GiB (off by %.2f GiB)", float64(p.ExpectedUsedBytes)/float64(GiB), float64(want)/float64(GiB), float64(d)/float64(GiB))
	}
}
