package proc

import (
	"io"
	"os"
	"strings"
)

// tailBytes bounds how much of a log file Tail reads.
const tailBytes = 64 << 10

// Tail returns the last maxLines lines of the file at path, joined by "\n"
// without a trailing newline. It reads at most the last 64 KiB, dropping the
// first, partial line of that window unless the window holds no other line.
// It returns "" when the file cannot be read or maxLines <= 0.
func Tail(path string, maxLines int) string {
	if maxLines <= 0 {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	// One byte more than the window, from before it: when that byte is a
	// newline, the window's first line is whole and is kept.
	off := max(fi.Size()-tailBytes-1, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, tailBytes+1))
	if err != nil {
		return ""
	}
	s := strings.TrimRight(string(b), "\n")
	if off > 0 && s != "" {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = s[1:]
		}
	}
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.ToValidUTF8(strings.Join(lines, "\n"), "\uFFFD")
}
