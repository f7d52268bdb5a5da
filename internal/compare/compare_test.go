package compare_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/runexp/runexp/internal/compare"
)

func pt(study, key string, values map[string]any) compare.Point {
	return compare.Point{Study: study, Key: key, OK: true, Values: values}
}

func rowOf(t *testing.T, res *compare.Result, metric string) compare.Row {
	t.Helper()
	for _, r := range res.Rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row for %s in %+v", metric, res.Rows)
	return compare.Row{}
}

func TestDefaultMetricsKnowWhichWayIsBetter(t *testing.T) {
	for name, higher := range map[string]bool{
		"kv_cache_tokens": true, "max_concurrency": true, "concurrent_output_throughput": true,
		"sequential_p99_ttft_ms": false, "median_tpot_ms": false, "gpu_mem_used_mb": false, "mean_e2el_ms": false,
	} {
		got, ok := compare.DefaultDirection(name)
		if !ok || got != higher {
			t.Errorf("%s: higher=%v ok=%v, want higher=%v", name, got, ok, higher)
		}
	}
	for _, name := range []string{"max_concurrency_len", "server_pid", "gpu_total_mb"} {
		if _, ok := compare.DefaultDirection(name); ok {
			t.Errorf("%s should not be a default metric", name)
		}
	}
}

func TestCompareCallsABadMoveBeyondTheThresholdARegression(t *testing.T) {
	base := []compare.Point{pt("kv", "len=512", map[string]any{"kv_cache_tokens": 1000.0, "p99_ttft_ms": 10.0, "gpu_mem_used_mb": 100.0, "server_pid": 7.0})}
	next := []compare.Point{pt("kv", "len=512", map[string]any{"kv_cache_tokens": 900.0, "p99_ttft_ms": 10.2, "gpu_mem_used_mb": 50.0, "server_pid": 9.0})}
	res := compare.Compare(base, next, compare.Options{Threshold: 0.05})
	if len(res.Rows) != 3 {
		t.Fatalf("want the 3 default metrics, got %+v", res.Rows)
	}
	if r := rowOf(t, res, "kv_cache_tokens"); r.Verdict != compare.Regressed || math.Abs(r.Change+0.1) > 1e-9 {
		t.Errorf("KV tokens 1000 → 900: %+v", r)
	}
	if r := rowOf(t, res, "p99_ttft_ms"); r.Verdict != compare.WithinNoise {
		t.Errorf("TTFT +2%% under a 5%% threshold: %+v", r)
	}
	if r := rowOf(t, res, "gpu_mem_used_mb"); r.Verdict != compare.Improved {
		t.Errorf("half the device memory: %+v", r)
	}
	if !res.Regressed() || strings.Join(res.RegressedMetrics(), ",") != "kv_cache_tokens" {
		t.Errorf("regressed metrics %v", res.RegressedMetrics())
	}
}

func TestCompareOfARunWithItselfFindsNoChange(t *testing.T) {
	points := []compare.Point{
		pt("kv", "len=512", map[string]any{"kv_cache_tokens": 1000.0}),
		pt("kv", "len=1024", map[string]any{"kv_cache_tokens": 1000.0}),
	}
	res := compare.Compare(points, points, compare.Options{Threshold: 0.05})
	if res.Regressed() || len(res.Rows) != 2 {
		t.Errorf("%+v", res)
	}
}

func TestComparePointsInOnlyOneRunAreListedNotCompared(t *testing.T) {
	base := []compare.Point{pt("kv", "len=512", map[string]any{"kv_cache_tokens": 1.0}), pt("kv", "len=1024", nil)}
	next := []compare.Point{pt("kv", "len=512", map[string]any{"kv_cache_tokens": 1.0}), pt("kv", "len=4096", nil)}
	res := compare.Compare(base, next, compare.Options{})
	if strings.Join(res.OnlyBase, ";") != "kv len=1024" || strings.Join(res.OnlyNew, ";") != "kv len=4096" {
		t.Errorf("only base %v, only new %v", res.OnlyBase, res.OnlyNew)
	}
}

func TestCompareWithRepeatsNeedsAWelchSignificantChange(t *testing.T) {
	noisyBase := []compare.Point{
		pt("b", "", map[string]any{"output_throughput": 100.0}), pt("b", "", map[string]any{"output_throughput": 140.0}),
		pt("b", "", map[string]any{"output_throughput": 60.0}),
	}
	noisyNew := []compare.Point{
		pt("b", "", map[string]any{"output_throughput": 90.0}), pt("b", "", map[string]any{"output_throughput": 130.0}),
		pt("b", "", map[string]any{"output_throughput": 50.0}),
	}
	r := rowOf(t, compare.Compare(noisyBase, noisyNew, compare.Options{Threshold: 0.05}), "output_throughput")
	if r.Welch == nil || r.Verdict != compare.WithinNoise || r.BaseN != 3 {
		t.Errorf("a 10%% drop inside ±40%% noise is noise: %+v", r)
	}
	tightNew := []compare.Point{
		pt("b", "", map[string]any{"output_throughput": 50.0}), pt("b", "", map[string]any{"output_throughput": 51.0}),
		pt("b", "", map[string]any{"output_throughput": 49.0}),
	}
	tightBase := []compare.Point{
		pt("b", "", map[string]any{"output_throughput": 100.0}), pt("b", "", map[string]any{"output_throughput": 101.0}),
		pt("b", "", map[string]any{"output_throughput": 99.0}),
	}
	if r := rowOf(t, compare.Compare(tightBase, tightNew, compare.Options{Threshold: 0.05}), "output_throughput"); r.Verdict != compare.Regressed {
		t.Errorf("half the throughput with tight repeats regressed: %+v", r)
	}
}

func TestCompareSkipsFailedPoints(t *testing.T) {
	base := []compare.Point{pt("kv", "", map[string]any{"kv_cache_tokens": 1000.0})}
	failed := pt("kv", "", map[string]any{"kv_cache_tokens": 0.0})
	failed.OK = false
	if res := compare.Compare(base, []compare.Point{failed}, compare.Options{}); len(res.Rows) != 0 {
		t.Errorf("a failed point's zeros are no measurement: %+v", res.Rows)
	}
}

func TestParseMetricAndThresholdRejectWhatTheyCannotRead(t *testing.T) {
	if m, err := compare.ParseMetric("foo:higher"); err != nil || !m.Higher || m.Name != "foo" {
		t.Errorf("foo:higher → %+v, %v", m, err)
	}
	if m, err := compare.ParseMetric("p99_ttft_ms"); err != nil || m.Higher {
		t.Errorf("p99_ttft_ms → %+v, %v", m, err)
	}
	for _, bad := range []string{"foo", "foo:up", ":lower", ""} {
		if _, err := compare.ParseMetric(bad); err == nil {
			t.Errorf("ParseMetric(%q) accepted", bad)
		}
	}
	for in, want := range map[string]float64{"5%": 0.05, "0.1": 0.1, "0%": 0} {
		if got, err := compare.ParseThreshold(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseThreshold(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"five", "-5%", ""} {
		if _, err := compare.ParseThreshold(bad); err == nil {
			t.Errorf("ParseThreshold(%q) accepted", bad)
		}
	}
}

func TestCompareWritesTextMarkdownAndJSON(t *testing.T) {
	base := []compare.Point{pt("kv", "len=512", map[string]any{"kv_cache_tokens": 1000.0})}
	next := []compare.Point{pt("kv", "len=512", map[string]any{"kv_cache_tokens": 500.0})}
	res := compare.Compare(base, next, compare.Options{Threshold: 0.05})
	for format, want := range map[string]string{
		"text":     "kv_cache_tokens ↑",
		"markdown": "| kv | len=512 | `kv_cache_tokens` ↑ | 1000 | 500 | -50.0% | **regressed** |",
	} {
		var buf bytes.Buffer
		if err := res.Write(&buf, format, "a", "b"); err != nil || !strings.Contains(buf.String(), want) {
			t.Errorf("%s: %v\n%s", format, err, buf.String())
		}
	}
	var buf bytes.Buffer
	if err := res.Write(&buf, "json", "a", "b"); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Regressed bool
		Rows      []compare.Row
	}
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil || !decoded.Regressed || len(decoded.Rows) != 1 {
		t.Errorf("json: %v %+v\n%s", err, decoded, buf.String())
	}
	if err := res.Write(&buf, "yaml", "a", "b"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestCompareJSONWritesAChangeFromZeroAsNull(t *testing.T) {
	base := []compare.Point{pt("kv", "", map[string]any{"kv_cache_tokens": 0.0})}
	next := []compare.Point{pt("kv", "", map[string]any{"kv_cache_tokens": 10.0})}
	var buf bytes.Buffer
	if err := compare.Compare(base, next, compare.Options{}).Write(&buf, "json", "a", "b"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"change": null`) {
		t.Errorf("%s", buf.String())
	}
}

func TestCompareNeitherRegressesNorImprovesFromABaseOfZero(t *testing.T) {
	base := []compare.Point{pt("b", "", map[string]any{"gpu_mem_max_mb": 0.0, "predicted_max_concurrency": 5.0})}
	next := []compare.Point{pt("b", "", map[string]any{"gpu_mem_max_mb": 4000.0, "predicted_max_concurrency": 1.0})}
	res := compare.Compare(base, next, compare.Options{Threshold: 0.05})
	if res.Regressed() || len(res.Rows) != 1 || res.Rows[0].Verdict != compare.NoBase {
		t.Errorf("a missing base sample is no regression, and predictions are no metric: %+v", res.Rows)
	}
}
