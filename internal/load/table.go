package load

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// ClassCounts formats counts by class as "a=1 b=2", sorted by class.
func ClassCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}

// tableRows are the summary fields WriteTable prints, in order.
var tableRows = []string{
	"kind", "completed", "failed", "dropped", "canceled", "duration",
	"total_input_tokens", "total_output_tokens",
	"request_throughput", "output_throughput", "total_token_throughput",
	"mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms", "n_ttft",
	"mean_tpot_ms", "median_tpot_ms", "p90_tpot_ms", "p99_tpot_ms", "n_tpot",
	"mean_itl_ms", "median_itl_ms", "p90_itl_ms", "p99_itl_ms", "n_itl",
	"mean_e2el_ms", "median_e2el_ms", "p90_e2el_ms", "p99_e2el_ms", "n_e2el",
	"max_concurrent_requests", "lag_p50_ms", "lag_p99_ms",
	"tokens_source", "finish_reasons", "errors_by_class", "threshold_exceeded", "interrupted",
}

// notApplicable is the cell of a statistic over no samples (TTFT, TPOT and
// ITL without streaming), which would otherwise read as a measured 0.
const notApplicable = "n/a"

// sampleCount returns the n_<metric> row that counts the samples behind a
// statistic row such as "p99_ttft_ms", and whether the row is one.
func sampleCount(row string) (string, bool) {
	parts := strings.Split(row, "_")
	if len(parts) < 3 || parts[len(parts)-1] != "ms" {
		return "", false
	}
	metric := parts[len(parts)-2]
	for _, m := range Metrics {
		if m == metric {
			return "n_" + m, true
		}
	}
	return "", false
}

// WriteTable prints summaries as an aligned table, one column per mode. A
// statistic over no samples prints n/a.
func WriteTable(w io.Writer, sums []Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "mode\t")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t", s.Mode)
	}
	fmt.Fprintln(tw)
	vals := make([]map[string]any, len(sums))
	for i, s := range sums {
		vals[i] = s.Values()
	}
	rows := tableRows
	for _, k := range []string{"request_goodput", "slo_attainment", "slo_pass", "slo_binding",
		"prefix_cache_queries", "prefix_cache_hits", "prefix_cache_hit_rate", "kv_cache_usage_max",
		"mean_ttft_first_turn_ms", "median_ttft_first_turn_ms", "mean_ttft_later_turns_ms", "median_ttft_later_turns_ms"} {
		for _, v := range vals {
			if _, ok := v[k]; ok {
				rows = append(rows[:len(rows):len(rows)], k) // only when a mode has SLOs / the server the counters
				break
			}
		}
	}
	for _, s := range sums {
		if s.PromptTokenChecks > 0 {
			rows = append(rows[:len(rows):len(rows)], "prompt_token_checks", "prompt_token_mismatches") // only for datasets
			break
		}
	}
	for _, k := range rows {
		fmt.Fprintf(tw, "%s\t", k)
		for i, s := range sums {
			var cell string
			switch k {
			case "finish_reasons":
				cell = ClassCounts(s.FinishReasons)
			case "errors_by_class":
				cell = ClassCounts(s.ErrorsByClass)
			default:
				if n, ok := sampleCount(k); ok && vals[i][n] == 0 {
					cell = notApplicable
					break
				}
				switch v := vals[i][k].(type) {
				case float64:
					cell = strconv.FormatFloat(v, 'f', 3, 64)
				default:
					cell = fmt.Sprint(v)
				}
			}
			if cell == "" {
				cell = "-"
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
