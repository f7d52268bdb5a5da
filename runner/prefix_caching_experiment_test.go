package runner_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// experiments/prefix-caching.yaml on the simulator: prefix caching on
// finds the shared system prompts cached (hit rate > 0 where there is a
// prefix, 0 with caching off) and cuts TTFT more the longer the prefix.

func TestShippedPrefixCachingOnTheSimulatorShowsHitRatesAndATTFTBenefitGrowingWithThePrefix(t *testing.T) {
	dir := filepath.Join(runShippedOnSim(t, "prefix-caching"), "prefix-caching")
	rows := readCSVMaps(t, filepath.Join(dir, "prefix_caching.csv"))
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 2 x 3 points", len(rows))
	}
	num := func(r map[string]any, k string) float64 {
		v, err := strconv.ParseFloat(fmt.Sprint(r[k]), 64)
		if err != nil {
			t.Fatalf("%s = %q in %v", k, r[k], r)
		}
		return v
	}
	ttft := map[string]float64{} // "true/512" → TTFT p50
	for _, r := range rows {
		if num(r, "failed") != 0 || num(r, "completed") != 64 {
			t.Errorf("point %v: %v completed, %v failed", r["prefix_len"], r["completed"], r["failed"])
		}
		if num(r, "prompt_token_mismatches") != 0 || num(r, "prompt_token_checks") != 64 {
			t.Errorf("point %v: %v of %v prompt lengths differ from the server's count", r["prefix_len"], r["prompt_token_mismatches"], r["prompt_token_checks"])
		}
		if r["data"] != "SIMULATED" {
			t.Errorf("row not labelled SIMULATED: %v", r["data"])
		}
		on, plen := r["enable_prefix_caching"] == "true", fmt.Sprint(r["prefix_len"])
		ttft[fmt.Sprint(on)+"/"+plen] = num(r, "median_ttft_ms")
		if r["prefix_cache_hit_rate"] == "" && !on {
			continue // no counters with caching off (vLLM records no queries then): no reuse either
		}
		if r["prefix_cache_hit_rate"] == "" {
			t.Errorf("caching %v, prefix_len %s: no hit rate: the simulator exposes no vllm:prefix_cache_* counters (the sim side of issue #18)", on, plen)
			continue
		}
		rate := num(r, "prefix_cache_hit_rate")
		switch {
		case !on && rate != 0:
			t.Errorf("caching off, prefix_len %s: hit rate %v, want 0", plen, rate)
		case on && plen != "0" && rate <= 0:
			t.Errorf("caching on, prefix_len %s: hit rate %v, want > 0", plen, rate)
		}
	}
	gain := func(plen string) float64 { return ttft["false/"+plen] / ttft["true/"+plen] }
	if !(gain("2048") > gain("512") && gain("512") > 1.05) {
		t.Errorf("TTFT off/on: %.2f at 512, %.2f at 2048; want > 1.05 and growing with the prefix", gain("512"), gain("2048"))
	}
	notes := readFile(t, filepath.Join(dir, "prefix_caching_notes.md"))
	for _, r := range rows {
		if s := fmt.Sprint(r["prefix_cache_hit_rate"]); s != "" {
			v, _ := strconv.ParseFloat(s, 64)
			if want := strconv.FormatFloat(v, 'f', 3, 64); !strings.Contains(notes, strings.TrimRight(strings.TrimRight(want, "0"), ".")) {
				t.Errorf("notes do not quote the hit rate %s:\n%s", want, notes)
			}
		}
	}
	if !strings.Contains(notes, "SIMULATED") {
		t.Errorf("notes not labelled SIMULATED:\n%s", notes)
	}
}
