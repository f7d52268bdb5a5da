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
	// One byte more than the window, from before it: when that byte is a
	// newline, the window's first line is whole and is kept.
	b, off, err := ReadTail(path, 0, tailBytes+1)
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

// ReadTail returns the last limit bytes of the file at path that lie at or
// after offset from, and the offset where they start.
func ReadTail(path string, from, limit int64) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	off := min(max(from, fi.Size()-limit), fi.Size())
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	return b, off, err
}
