package load

import (
	"math"
)

// RepeatMetrics are the summary values a repeated mode (Mode.Repeat > 1)
// reports across its repetitions as <metric>_mean, <metric>_ci95_low and
// <metric>_ci95_high.
var RepeatMetrics = []string{"duration", "request_throughput", "output_throughput", "request_goodput",
	"mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "median_tpot_ms", "p99_tpot_ms",
	"mean_itl_ms", "p99_itl_ms", "mean_e2el_ms", "median_e2el_ms", "p99_e2el_ms"}

// repeatSuffixes name the statistics of RepeatStats.
var repeatSuffixes = []string{"_mean", "_ci95_low", "_ci95_high"}

// RepeatStats returns, for each of RepeatMetrics present in every
// repetition, its mean over reps and the two-sided 95 % confidence interval
// of that mean by Student's t: mean ± t(0.975, n-1) · s/√n, s the sample
// standard deviation (n-1). One repetition gives the mean only.
func RepeatStats(reps []Summary) map[string]float64 {
	out := map[string]float64{}
	vals := make([]map[string]any, len(reps))
	for i, r := range reps {
		vals[i] = r.Values()
	}
	for _, k := range RepeatMetrics {
		xs := make([]float64, 0, len(reps))
		for _, v := range vals {
			if x, ok := v[k].(float64); ok {
				xs = append(xs, x)
			}
		}
		if len(xs) != len(reps) || len(xs) == 0 {
			continue
		}
		mean, half := MeanCI95(xs)
		out[k+"_mean"] = mean
		if len(xs) > 1 {
			out[k+"_ci95_low"], out[k+"_ci95_high"] = mean-half, mean+half
		}
	}
	return out
}

// MeanCI95 returns the mean of xs and the half-width of its two-sided 95 %
// Student-t confidence interval (0 for fewer than two values).
func MeanCI95(xs []float64) (mean, half float64) {
	n := float64(len(xs))
	if n == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, StudentT975(len(xs)-1) * math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}

// t975 are the 0.975 quantiles of Student's t for 1..30 degrees of freedom.
var t975 = []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

// StudentT975 returns the 0.975 quantile of Student's t with df degrees of
// freedom (the factor of a two-sided 95 % interval): tabulated to 30, then
// the Cornish-Fisher expansion around the normal's 1.959964, within 0.001.
func StudentT975(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	if df <= len(t975) {
		return t975[df-1]
	}
	const z = 1.959963984540054
	v := float64(df)
	return z + (z*z*z+z)/(4*v) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*v*v)
}
