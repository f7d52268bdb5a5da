package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/runexp/runexp/internal/exitcode"
	"github.com/runexp/runexp/internal/sim"
)

// cmdSim is `runexp sim serve [MODEL] [vllm serve flags]`: the built-in
// simulated vLLM server, until the first signal (then exit 0, as vLLM).
// Bad arguments are reported in vLLM's words and exit 2.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(stderr, "usage: runexp sim serve [MODEL] [vllm serve flags]")
		return exitcode.Reported(exitcode.UsageError(errors.New("no sim subcommand")))
	}
	o, err := sim.ParseArgs(args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, sim.Usage())
		return nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "runexp sim serve: error: %v\nrun 'runexp sim serve --help' for the accepted flags\n", err)
		return exitcode.Reported(exitcode.UsageError(err))
	}
	return sim.Serve(ctx, o, stdout, stderr)
}
