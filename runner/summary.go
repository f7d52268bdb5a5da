package runner

import (
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
)

// writeSummary prints the end-of-run table: one row per point.
func writeSummary(w io.Writer, r *Result) {
	fmt.Fprintln(w)
	t := tablewriter.NewWriter(w)
	t.Header("study", "point", "sweep", "status", "seconds", "phase / error")
	for _, p := range r.Points {
		msg := p.Error
		if p.Phase != "" {
			msg = p.Phase + ": " + msg
		}
		if len(msg) > 100 {
			msg = msg[:97] + "..."
		}
		t.Append(p.Study, p.ID, p.Label, string(p.Status), fmt.Sprintf("%.1f", p.Seconds), strings.ReplaceAll(msg, "\n", " "))
	}
	t.Render()
	ok := 0
	for _, p := range r.Points {
		if p.Status == StatusOK {
			ok++
		}
	}
	fmt.Fprintf(w, "%d/%d points ok; results in %s\n", ok, len(r.Points), r.RunDir)
}
