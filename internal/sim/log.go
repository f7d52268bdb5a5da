package sim

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// logger writes vLLM-format log lines:
//
//	(EngineCore_DP0 pid=1234) INFO 11-26 23:05:01 [kv_cache_utils.py:1087] GPU KV cache size: 49,152 tokens
type logger struct {
	mu  sync.Mutex
	w   io.Writer
	pid int
}

const (
	procAPI    = "APIServer"
	procEngine = "EngineCore_DP0"
)

func (l *logger) logf(proc, level, src, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "(%s pid=%d) %s %s [%s] %s\n", proc, l.pid, level, time.Now().Format("01-02 15:04:05"), src, msg)
}

func (l *logger) info(proc, src, format string, args ...any) {
	l.logf(proc, "INFO", src, format, args...)
}

func (l *logger) warn(proc, src, format string, args ...any) {
	l.logf(proc, "WARNING", src, format, args...)
}

func (l *logger) error(proc, src, format string, args ...any) {
	l.logf(proc, "ERROR", src, format, args...)
}

// access writes a uvicorn access-log line.
func (l *logger) access(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "(%s pid=%d) INFO:     %s\n", procAPI, l.pid, msg)
}

// commas formats n with thousands separators, like Python's f"{n:,}".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func gibs(b int64) float64 { return float64(b) / (1 << 30) }
