package load_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runexp/runexp/internal/load"
)

// gapStats returns the mean and the coefficient of variation of a
// schedule's gaps, in seconds.
func gapStats(sched []time.Duration) (mean, cv float64) {
	gaps := make([]float64, len(sched)-1)
	for i := 1; i < len(sched); i++ {
		gaps[i-1] = (sched[i] - sched[i-1]).Seconds()
	}
	st := load.ComputeStats(gaps)
	return st.Mean, st.Std / st.Mean
}

// Burstiness b draws gamma gaps of shape b and scale 1/(rate·b), as vLLM's
// bench does: the mean rate stays the rate, the gaps' coefficient of
// variation is 1/sqrt(b) (bursty below 1, even above 1).
func TestBurstinessDrawsGammaGapsWithTheMeanRate(t *testing.T) {
	for _, b := range []float64{0.25, 0.5, 2, 4} {
		m := load.Mode{Kind: load.KindRate, Rate: 100, Requests: 40001, Arrival: load.ArrivalPoisson, Seed: 3, Burstiness: b}
		mean, cv := gapStats(load.Schedule(m))
		if math.Abs(mean-0.01)/0.01 > 0.03 {
			t.Errorf("burstiness %v: mean gap %.5fs, want 0.01s", b, mean)
		}
		if want := 1 / math.Sqrt(b); math.Abs(cv-want)/want > 0.06 {
			t.Errorf("burstiness %v: coefficient of variation %.3f, want %.3f", b, cv, want)
		}
	}
}

// Burstiness 1 is Poisson: the very schedule of plain poisson arrivals.
func TestBurstinessOneIsThePoissonSchedule(t *testing.T) {
	m := load.Mode{Kind: load.KindRate, Rate: 50, Requests: 100, Arrival: load.ArrivalPoisson, Seed: 9}
	plain := load.Schedule(m)
	m.Burstiness = 1
	if !slices.Equal(plain, load.Schedule(m)) {
		t.Fatal("burstiness 1 changed the poisson schedule")
	}
}

// Burstiness belongs to poisson arrivals of a rate mode, and the engine's
// rate is finite (vLLM's inf is a closed loop, chosen by the CLI).
func TestValidateBurstinessAndWaitForSlotAtTheirKeys(t *testing.T) {
	cfg := load.Config{BaseURL: "http://x", Model: "m", Modes: []load.Mode{
		{Kind: load.KindRate, Rate: 1, Requests: 1, Burstiness: 2},
		{Name: "c", Kind: load.KindConcurrent, Concurrency: 1, Requests: 1, WaitForSlot: true, Burstiness: 2},
		{Name: "i", Kind: load.KindRate, Rate: math.Inf(1), Requests: 1, Arrival: load.ArrivalPoisson, Burstiness: -1},
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"modes[0].burstiness", "modes[1].wait_for_slot", "modes[1].burstiness", "modes[2].rate", "modes[2].burstiness"} {
		if !containsLine(err.Error(), want) {
			t.Errorf("no problem at %s:\n%v", want, err)
		}
	}
}

// containsLine reports whether a problem list names key.
func containsLine(problems, key string) bool {
	for _, l := range strings.Split(problems, "\n") {
		if strings.Contains(l, key+":") || strings.Contains(l, key+" ") {
			return true
		}
	}
	return false
}
