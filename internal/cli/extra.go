package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/sim"
)

// cmdLoad is `runexp load`: the load engine without a spec.
func cmdLoad(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := load.RunCLI(ctx, args, stdout, stderr)
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	return code
}

// cmdSim is `runexp sim serve`: the built-in simulated vLLM server.
func cmdSim(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(stderr, "usage: runexp sim serve [MODEL] [vllm serve flags]")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return sim.Main(ctx, args[1:], stdout, stderr)
}
