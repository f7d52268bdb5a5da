package cli

import (
	"fmt"
	"io"
)

func cmdLoad(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "runexp load: not built in yet")
	return ExitUsage
}

func cmdSim(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "runexp sim: not built in yet")
	return ExitUsage
}
