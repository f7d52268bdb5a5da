package exitcode

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestOfMapsEachErrorToItsExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, OK},
		{flag.ErrHelp, OK},
		{fmt.Errorf("x: %w", ErrInterrupted), Interrupted},
		{context.Canceled, Interrupted},
		{UsageError(errors.New("bad flag")), Usage},
		{Reported(UsageError(errors.New("printed"))), Usage},
		{errors.New("boom"), Failed},
		{Reported(errors.New("printed")), Failed},
	} {
		if got := Of(tc.err); got != tc.want {
			t.Errorf("Of(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestMarkedErrorsReadAsTheirCauseAndKeepIt(t *testing.T) {
	cause := errors.New("cause")
	err := Reported(UsageError(cause))
	if err.Error() != "cause" || !errors.Is(err, cause) || !IsReported(err) {
		t.Errorf("marked error %q lost its cause or mark", err)
	}
	if IsReported(UsageError(cause)) {
		t.Error("a usage error reads as reported")
	}
	if Reported(nil) != nil || UsageError(nil) != nil {
		t.Error("marking nil gives an error")
	}
}
