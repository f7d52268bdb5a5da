// Command runexp runs declarative, versioned LLM-serving experiments.
// See internal/cli for the commands; this file only wires os.Args and exits.
package main

import (
	"os"

	"github.com/runexp/runexp/internal/cli"
	"github.com/runexp/runexp/internal/proc"
)

func main() {
	proc.GuardMain() // as a launched server's guard, runs it and exits; see internal/proc
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
