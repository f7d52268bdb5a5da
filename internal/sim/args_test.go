package sim

import (
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	ok := []struct {
		args  []string
		check func(Options) bool
	}{
		{[]string{"serve", "m", "--max-model-len", "1024"}, func(o Options) bool { return o.Model == "m" && o.MaxModelLen == 1024 }},
		{[]string{"m", "--max-model-len=4k"}, func(o Options) bool { return o.MaxModelLen == 4000 }},
		{[]string{"m", "--max-model-len=4K"}, func(o Options) bool { return o.MaxModelLen == 4096 }},
		{[]string{"--model=m", "--enforce-eager"}, func(o Options) bool { return o.Model == "m" && o.EnforceEager }},
		{[]string{"m", "--enforce-eager", "--no-enforce-eager"}, func(o Options) bool { return !o.EnforceEager }},
		{[]string{"m", "--enforce-eager=false"}, func(o Options) bool { return !o.EnforceEager }},
		{[]string{"m", "--max_num_seqs", "8", "--max-num-batched-tokens=512"}, func(o Options) bool { return o.MaxNumSeqs == 8 && o.MaxNumBatchedTokens == 512 }},
		{[]string{"m", "--gpu", "rtx-4090"}, func(o Options) bool { return o.GPU == "RTX-4090" }},
		{[]string{"m", "--startup-delay", "0.5"}, func(o Options) bool { return o.StartupDelay == 500*time.Millisecond }},
		{[]string{"m", "--startup-delay=2s", "--time-scale=0"}, func(o Options) bool { return o.StartupDelay == 2*time.Second && o.TimeScale == 0 }},
		{[]string{"m", "--served-model-name", "a", "--host", "0.0.0.0", "--port", "9000"}, func(o Options) bool {
			return len(o.ServedModelName) == 1 && o.ServedModelName[0] == "a" && o.Host == "0.0.0.0" && o.Port == 9000
		}},
		{[]string{"--model-config", "/x/config.json"}, func(o Options) bool { return o.ModelConfig == "/x/config.json" && o.Model == "" }},
		{[]string{"m", "--dtype", "half", "--kv-cache-dtype", "fp8", "--block-size", "32", "--gpu-memory-utilization", "0.5"}, func(o Options) bool {
			return o.DType == "half" && o.KVCacheDType == "fp8" && o.BlockSize == 32 && o.GPUMemoryUtilization == 0.5
		}},
		{[]string{"m", "--trust-remote-code", "--no-enable-prefix-caching", "--tensor-parallel-size", "1", "--seed", "3"}, func(o Options) bool { return o.Seed == 3 && !o.EnablePrefixCaching }},
		{[]string{"m", "--enable-prefix-caching=false", "--enable-prompt-tokens-details"}, func(o Options) bool {
			return !o.EnablePrefixCaching && o.EnablePromptTokensDetails
		}},
		{[]string{"m"}, func(o Options) bool {
			return o.GPU == "H100-80GB" && o.Host == "127.0.0.1" && o.Port == 8000 && o.GPUMemoryUtilization == 0.92 && o.BlockSize == 16 &&
				o.StartupDelay == DefaultStartupDelay && o.TimeScale == 1 && o.MaxModelLen == 0 && o.MaxNumSeqs == 0 &&
				o.EnablePrefixCaching && !o.EnablePromptTokensDetails
		}},
	}
	for _, tc := range ok {
		o, err := ParseArgs(tc.args)
		if err != nil || !tc.check(o) {
			t.Errorf("ParseArgs(%q) = %+v, %v", tc.args, o, err)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"m", "--foo"}, "unrecognized arguments: --foo"},
		{[]string{"m", "--foo=1"}, "unrecognized arguments: --foo"},
		{[]string{"m", "-x"}, "unrecognized arguments: -x"},
		{[]string{"m", "extra"}, "unrecognized arguments: extra"},
		{[]string{"m", "--max-model-len"}, "argument --max-model-len: expected one argument"},
		{[]string{"m", "--max-model-len", "big"}, "invalid token count"},
		{[]string{"m", "--gpu", "GB300"}, "unknown simulated GPU \"GB300\" (presets: H100-80GB, H200, A100-40GB, A100-80GB, L4, T4, RTX-4090, A10G, L40S, A6000, RTX-3090, V100-32GB, H20, B200, MI300X)"},
		{[]string{"m", "--gpu-memory-utilization", "1.5"}, "must be in (0, 1]"},
		{[]string{"m", "--block-size", "7"}, "invalid choice"},
		{[]string{"m", "--kv-cache-memory-bytes", "1"}, "--kv-cache-memory-bytes: not simulated"},
		{[]string{"m", "--tensor-parallel-size", "2"}, "models one GPU"},
		{[]string{"m", "--enforce-eager=maybe"}, "invalid bool"},
		{[]string{"m", "--no-enforce-eager=1"}, "ignored explicit argument"},
		{[]string{"m", "--port", "70000"}, "invalid port"},
		{[]string{"m", "--time-scale", "-1"}, "must be a number >= 0"},
		{[]string{"a", "--model", "b"}, "model given twice"},
		{[]string{}, "no model"},
	}
	for _, tc := range bad {
		if _, err := ParseArgs(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseArgs(%q) error = %v, want %q", tc.args, err, tc.want)
		}
	}
}
