package sse

import (
	"errors"
	"testing"
	"testing/iotest"
)

// TestReview3ReadErrorAfterBareCRNotLost: Next returns "a transport error
// as is". When an event ends with a bare CR that is the last buffered byte,
// readLine sets skipLF and the next call peeks one byte to drop a following
// LF — ignoring the peek's error. bufio.Reader hands a read error out only
// once, so that error is gone: the next read is retried and, for a reader
// whose error is not sticky (iotest.TimeoutReader: a timeout on the second
// read, data after), the error is silently skipped and the following event
// returned instead. With LF line ends the same stream does report the
// error. Correct: the peek's error (other than a clean EOF handled as
// before) is returned by Next.
func TestReview3ReadErrorAfterBareCRNotLost(t *testing.T) {
	for _, eol := range []string{"\n", "\r"} {
		in := "data: x" + eol + eol
		src := iotest.TimeoutReader(&chunked{b: []byte(in + "data: y" + eol + eol), n: len(in)})
		rd := NewReaderSize(src, 16)
		d, err := rd.Next()
		if err != nil || string(d) != "x" {
			t.Fatalf("eol %q: first event %q, %v", eol, d, err)
		}
		d, err = rd.Next()
		if !errors.Is(err, iotest.ErrTimeout) {
			t.Errorf("eol %q: second Next = %q, %v; want the read error %v", eol, d, err, iotest.ErrTimeout)
		}
	}
}
