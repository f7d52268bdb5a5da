package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Formats lists the output formats of Write.
var Formats = []string{"text", "markdown", "json"}

// Write prints the result as text, markdown (a pull-request comment) or json.
func (r *Result) Write(w io.Writer, format, baseName, newName string) error {
	switch format {
	case "text":
		return r.writeText(w, baseName, newName)
	case "markdown":
		return r.writeMarkdown(w, baseName, newName)
	case "json":
		out := struct {
			Base      string `json:"base"`
			New       string `json:"new"`
			Regressed bool   `json:"regressed"`
			*Result
		}{baseName, newName, r.Regressed(), r}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// Summary is one line: how many rows regressed, improved, stayed.
func (r *Result) Summary() string {
	counts := map[string]int{}
	for _, row := range r.Rows {
		counts[row.Verdict]++
	}
	s := fmt.Sprintf("%d metrics compared (threshold %.3g%%): %d regressed, %d improved, %d within noise",
		len(r.Rows), r.Threshold*100, counts[Regressed], counts[Improved], counts[WithinNoise])
	if n := counts[NoBase]; n > 0 {
		s += fmt.Sprintf(", %d with a base of 0", n)
	}
	if m := r.RegressedMetrics(); len(m) > 0 {
		s += "; regressed: " + strings.Join(m, ", ")
	}
	return s
}

// FormatChange writes a fraction as a signed percentage.
func FormatChange(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+∞"
	case math.IsInf(f, -1):
		return "−∞"
	}
	return fmt.Sprintf("%+.1f%%", f*100)
}

// FormatValue writes a metric value with enough digits to tell changes apart.
func FormatValue(v float64) string {
	switch a := math.Abs(v); {
	case v == math.Trunc(v) && a < 1e15:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

func (row Row) direction() string {
	if row.Higher {
		return "↑"
	}
	return "↓"
}

// VerdictText is the verdict as compare prints it, with the Welch test's t
// and df and the row's note (why there was no test, or that an n counts
// repetitions on one server).
func (row Row) VerdictText() string {
	var parts []string
	if row.Welch != nil {
		parts = append(parts, fmt.Sprintf("Welch t=%.2f, df=%.1f", row.Welch.T, row.Welch.DF))
	}
	if row.Note != "" {
		parts = append(parts, row.Note)
	}
	if len(parts) == 0 {
		return row.Verdict
	}
	return row.Verdict + " (" + strings.Join(parts, "; ") + ")"
}

// BaseText is the base side as compare prints it (see sideText).
func (row Row) BaseText() string { return sideText(row.Base, row.BaseN, row.BaseCI) }

// NewText is the new side as compare prints it (see sideText).
func (row Row) NewText() string { return sideText(row.New, row.NewN, row.NewCI) }

// sideText writes one side's value: the mean, and with repetitions its
// 95% interval and n, e.g. "102 ± 2.48 (n=3)".
func sideText(mean float64, n int, ci *CI) string {
	if ci == nil {
		return FormatValue(mean)
	}
	return fmt.Sprintf("%s ± %s (n=%d)", FormatValue(mean), FormatValue((ci.High-ci.Low)/2), n)
}

func (r *Result) writeText(w io.Writer, baseName, newName string) error {
	fmt.Fprintf(w, "base %s\nnew  %s\n\n", baseName, newName)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STUDY\tPOINT\tMETRIC\tBASE\tNEW\tCHANGE\tVERDICT")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", row.Study, row.Point, row.Metric, row.direction(),
			row.BaseText(), row.NewText(), FormatChange(row.Change), row.VerdictText())
	}
	tw.Flush()
	r.writeUnmatched(w, "")
	fmt.Fprintf(w, "\n%s\n", r.Summary())
	return nil
}

func (r *Result) writeMarkdown(w io.Writer, baseName, newName string) error {
	verdict := "✅ no regression"
	if r.Regressed() {
		verdict = "❌ regression"
	}
	fmt.Fprintf(w, "### runexp compare: %s\n\nbase `%s` → new `%s`\n\n", verdict, baseName, newName)
	fmt.Fprintln(w, "| study | point | metric | base | new | change | verdict |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | --- |")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, row := range r.Rows {
		v := row.VerdictText()
		if row.Verdict == Regressed {
			v = "**" + v + "**"
		}
		fmt.Fprintf(w, "| %s | %s | `%s` %s | %s | %s | %s | %s |\n", cell(row.Study), cell(row.Point), row.Metric,
			row.direction(), row.BaseText(), row.NewText(), FormatChange(row.Change), v)
	}
	r.writeUnmatched(w, "- ")
	fmt.Fprintf(w, "\n%s\n", r.Summary())
	return nil
}

func (r *Result) writeUnmatched(w io.Writer, bullet string) {
	for _, l := range []struct {
		title  string
		points []string
	}{{"only in base", r.OnlyBase}, {"only in new", r.OnlyNew}} {
		if len(l.points) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nPoints %s:\n", l.title)
		if bullet == "" {
			bullet = "  "
		}
		for _, p := range l.points {
			fmt.Fprintf(w, "%s%s\n", bullet, p)
		}
	}
}
