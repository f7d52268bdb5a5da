package load

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultProgressInterval is how often Run reports progress when
// Config.ProgressInterval is 0.
const DefaultProgressInterval = time.Second

// Progress is a snapshot of the running mode's measured requests (warm-up
// excluded), given to Config.OnProgress every Config.ProgressInterval and
// once more, with Final, when the mode ends.
type Progress struct {
	Mode         string
	Total        int           // requests the mode will schedule; 0 when it runs for Duration
	Duration     time.Duration // the mode's Duration (0: it runs by count)
	Completed    int           // ended successfully
	Failed       int           // ended in error (canceled ones are not failures)
	Dropped      int           // rate mode: not sent, the in-flight cap was reached
	InFlight     int
	OutputTokens int // completion tokens of completed requests
	Elapsed      time.Duration
	Final        bool // the mode has ended
}

// RequestRate is completed requests per second so far.
func (p Progress) RequestRate() float64 { return perSecond(p.Completed, p.Elapsed) }

// TokenRate is output tokens per second so far.
func (p Progress) TokenRate() float64 { return perSecond(p.OutputTokens, p.Elapsed) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ETA estimates the time left: by the pace so far when the mode runs by
// count, by its Duration otherwise; false when there is nothing to go by
// yet.
func (p Progress) ETA() (time.Duration, bool) {
	done := p.Completed + p.Failed + p.Dropped
	switch {
	case p.Final:
		return 0, true
	case p.Total > 0 && done > 0:
		return time.Duration(float64(p.Elapsed) * float64(p.Total-done) / float64(done)), true
	case p.Total == 0 && p.Duration > 0:
		return max(p.Duration-p.Elapsed, 0), true
	}
	return 0, false
}

// String is the progress line: counts, rates, elapsed time and ETA.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", p.Mode)
	if p.Total > 0 {
		fmt.Fprintf(&b, "%d/%d done", p.Completed+p.Failed+p.Dropped, p.Total)
	} else {
		fmt.Fprintf(&b, "%d done", p.Completed+p.Failed+p.Dropped)
	}
	fmt.Fprintf(&b, " (%d ok, %d failed", p.Completed, p.Failed)
	if p.Dropped > 0 {
		fmt.Fprintf(&b, ", %d dropped", p.Dropped)
	}
	fmt.Fprintf(&b, "), %d in flight, %.1f req/s, %.0f tok/s, %s elapsed", p.InFlight, p.RequestRate(), p.TokenRate(),
		p.Elapsed.Round(100*time.Millisecond))
	if eta, ok := p.ETA(); ok && !p.Final {
		fmt.Fprintf(&b, ", ETA %s", eta.Round(100*time.Millisecond))
	}
	return b.String()
}

// ProgressPrinter returns an OnProgress that writes to w. With redraw (w
// is a terminal) it rewrites one line in place with \r and ends it when the
// mode ends; otherwise (CI logs, files) it writes one plain line per report
// and nothing at the mode's end, where a summary follows anyway.
func ProgressPrinter(w io.Writer, redraw bool) func(Progress) {
	width := 0
	return func(p Progress) {
		line := p.String()
		if !redraw {
			if !p.Final {
				fmt.Fprintln(w, line)
			}
			return
		}
		pad := max(width-len(line), 0) // blank out the rest of a longer previous line
		width = len(line)
		fmt.Fprintf(w, "\r%s%s", line, strings.Repeat(" ", pad))
		if p.Final {
			fmt.Fprintln(w)
			width = 0
		}
	}
}

// meter counts a mode's measured requests for progress reports; the
// client updates it around every request.
type meter struct {
	completed, failed, dropped, inFlight, tokens atomic.Int64
}

func (m *meter) snapshot(p Progress) Progress {
	p.Completed, p.Failed, p.Dropped = int(m.completed.Load()), int(m.failed.Load()), int(m.dropped.Load())
	p.InFlight, p.OutputTokens = int(m.inFlight.Load()), int(m.tokens.Load())
	return p
}

// ended counts a finished request.
func (m *meter) ended(r *RequestResult) {
	m.inFlight.Add(-1)
	switch {
	case r.OK():
		m.completed.Add(1)
		m.tokens.Add(int64(r.CompletionTokens))
	case r.ErrorClass != ClassCanceled:
		m.failed.Add(1)
	}
}

// reportProgress calls onProgress every interval until stop is closed,
// then once more with Final; it returns when the final report is done.
func reportProgress(m *meter, base Progress, interval time.Duration, onProgress func(Progress), stop <-chan struct{}) {
	t0 := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			p := m.snapshot(base)
			p.Elapsed = time.Since(t0)
			onProgress(p)
		case <-stop:
			p := m.snapshot(base)
			p.Elapsed, p.Final = time.Since(t0), true
			onProgress(p)
			return
		}
	}
}
