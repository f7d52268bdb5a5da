package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// setHelp makes fs print its help in the one style of every runexp
// subcommand (runexp sim serve's too):
//
//	usage: runexp NAME ARGS
//
//	What it does.
//
//	Flags:
//	  --name TYPE
//	        what it does (default X)
//
// after which extra, if given, prints more.
func setHelp(fs *flag.FlagSet, synopsis, about string, extra ...func(io.Writer)) {
	fs.Usage = func() {
		w := fs.Output()
		printHelp(w, synopsis, about, fs)
		for _, more := range extra {
			more(w)
		}
	}
}

// printHelp writes a subcommand's help; fs may be nil (no flags).
func printHelp(w io.Writer, synopsis, about string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n", synopsis)
	if about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(about, "\n"))
	}
	if fs == nil {
		return
	}
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nFlags:\n")
			first = false
		}
		typ, doc := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		if !zeroDefault(f) && !strings.Contains(doc, "(default") {
			doc += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, doc)
	})
}

// zeroDefault reports whether f's default is its type's zero value, which
// the help leaves unsaid.
func zeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "0s", "[]":
		return true
	}
	return false
}
