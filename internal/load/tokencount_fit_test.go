package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

type countFunc func(string) (int, error)

func (f countFunc) Count(_ context.Context, s string) (int, error) { return f(s) }

// A server that refuses prompts past its context (vLLM's 400) is probed
// below that length; the fit still lands exactly.
func TestFitTakesARefusedProbeAsTooLong(t *testing.T) {
	refused := 0
	c := countFunc(func(s string) (int, error) {
		n := 1 + len(strings.Fields(s))
		if n > 60 {
			refused++
			return 0, errTooLong
		}
		return n, nil
	})
	f := newFitter(c)
	f.charsPerToken = 40 // a bad first guess: far past the context
	src := wordText(rand.New(rand.NewPCG(1, 2)), 50)
	got, n, err := f.fit(context.Background(), "", src, 50)
	if err != nil || n != 50 || 1+len(strings.Fields(got)) != 50 {
		t.Fatalf("fit: %d tokens, err %v", n, err)
	}
	if refused == 0 {
		t.Error("no probe was refused: the test did not exercise the refusal")
	}
}

// When no cut counts exactly (every word is two tokens), the fit returns
// the longest shorter cut with its count and errCannotFit.
func TestFitReportsWhenNoCutCountsExactly(t *testing.T) {
	c := countFunc(func(s string) (int, error) { return 2 * len(strings.Fields(s)), nil })
	src := wordText(rand.New(rand.NewPCG(1, 2)), 40)
	got, n, err := newFitter(c).fit(context.Background(), "", src, 41)
	if !errors.Is(err, errCannotFit) || n != 40 || 2*len(strings.Fields(got)) != 40 {
		t.Fatalf("fit: %d tokens (%d words), err %v; want 40 and errCannotFit", n, len(strings.Fields(got)), err)
	}
}
