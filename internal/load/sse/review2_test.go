package sse

import (
	"strings"
	"testing"
)

// TestReview2BareCRLineEndings: the WHATWG event-stream format (and the
// product rule for runexp's SSE parser) accepts CRLF, LF *and a bare CR* as
// line terminators. A stream whose lines end in "\r" alone must yield the
// same events as one ending in "\n". Today readLine splits only on '\n', so
// the whole CR-terminated stream is one "unterminated line" and is dropped:
// no event at all is returned. The mixed case checks that a CR at the end of
// one read followed by LF at the start of the next still counts as one line
// end (CRLF), not two.
func TestReview2BareCRLineEndings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"cr only", "data: a\r\rdata: b\r\rdata: [DONE]\r\r", []string{"a", "b", "[DONE]"}},
		{"cr multi-line", "data: {\"a\":\rdata: 1}\r\r", []string{"{\"a\":\n1}"}},
		{"mixed", "data: a\r\n\r\ndata: b\r\rdata: c\n\n", []string{"a", "b", "c"}},
	}
	for _, tc := range tests {
		for _, split := range []int{1, 2, 3, 7, 64, 1 << 20} {
			got, err := readAll(t, &chunked{b: []byte(tc.in), n: split}, 16)
			if err != nil {
				t.Errorf("%s/split=%d: err %v", tc.name, split, err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("%s/split=%d: got %q, want %q", tc.name, split, got, tc.want)
			}
		}
	}
}
