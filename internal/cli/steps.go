package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/runexp/runexp/internal/schema"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

const stepsSynopsis = "runexp steps [KIND]"

const stepsAbout = `Without KIND, lists the step kinds. With KIND, prints the keys its with:
block takes, with their types, defaults and docs (the same source as
runexp schema).`

// cmdSteps is `runexp steps [KIND]`.
func cmdSteps(args []string, stdout, stderr io.Writer) int {
	reg := steps.Builtin()
	switch {
	case len(args) == 1 && isHelp(args[0]):
		printHelp(stdout, stepsSynopsis, stepsAbout, nil)
		return ExitOK
	case len(args) > 1:
		fmt.Fprintf(stderr, "runexp steps: want at most one KIND, got %d\n\n", len(args))
		printHelp(stderr, stepsSynopsis, stepsAbout, nil)
		return ExitUsage
	case len(args) == 0:
		for _, k := range reg.Kinds() {
			fmt.Fprintf(stdout, "%-14s %s (default timeout %s)\n", k.Name, k.Doc, k.Timeout)
		}
		fmt.Fprintln(stdout, "\nrunexp steps KIND prints a kind's fields.")
		return ExitOK
	}
	k, ok := reg.Lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "runexp steps: unknown step kind %q%s (kinds: %s)\n", args[0], spec.DidYouMean(args[0], reg.Names()), strings.Join(reg.Names(), ", "))
		return ExitUsage
	}
	printKind(stdout, k)
	return ExitOK
}

// printKind writes one kind's fields in the style of a flag listing.
func printKind(w io.Writer, k steps.Kind) {
	fmt.Fprintf(w, "type: %s\n\n%s\nDefault timeout %s.\n", k.Name, k.Doc, k.Timeout)
	fields := schema.KindFields(k)
	if len(fields) == 0 {
		fmt.Fprintln(w, "\nIt takes no with: block.")
		return
	}
	fmt.Fprintln(w, "\nwith:")
	for _, f := range fields {
		indent := strings.Repeat("  ", strings.Count(f.Key, ".")) // nested keys under their parent
		line := fmt.Sprintf("  %s%s: %s", indent, f.Key, f.Type)
		if f.Default != "" {
			line += " (default " + f.Default + ")"
		}
		fmt.Fprintln(w, line)
		if f.Doc != "" {
			fmt.Fprintf(w, "  %s      %s\n", indent, f.Doc)
		}
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}
