// Command loadcli runs the load engine's CLI (load.RunCLI) so bench/compare.sh
// can drive it without cmd/runexp.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/runexp/runexp/internal/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(load.RunCLI(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
