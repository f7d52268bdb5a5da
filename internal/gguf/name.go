package gguf

import (
	"fmt"
	"strings"
)

// DefaultName is the general.name of a shape written without --name:
// random-llama-<params>, e.g. random-llama-26m.
func DefaultName(s Shape) string { return "random-llama-" + humanParams(s.Params()) }

// humanParams gives 26M, 3p8b style sizes (no dots: names become paths).
func humanParams(n int64) string {
	switch {
	case n >= 1e9:
		return strings.Replace(fmt.Sprintf("%.1fb", float64(n)/1e9), ".", "p", 1)
	case n >= 1e6:
		return fmt.Sprintf("%dm", (n+5e5)/1e6)
	default:
		return fmt.Sprintf("%dk", (n+500)/1e3)
	}
}
