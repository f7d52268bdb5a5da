// Command loadcli runs the load engine's command line (runexp load) so
// bench/compare.sh can drive it without cmd/runexp.
package main

import (
	"os"

	"github.com/runexp/runexp/internal/cli"
)

func main() {
	os.Exit(cli.Main(append([]string{"load"}, os.Args[1:]...), os.Stdout, os.Stderr))
}
