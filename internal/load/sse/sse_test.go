package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll returns every event's data.
func readAll(t *testing.T, r io.Reader, size int) ([]string, error) {
	t.Helper()
	rd := NewReaderSize(r, size)
	var out []string
	for {
		d, err := rd.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, string(d))
	}
}

// chunked splits a stream into reads of n bytes.
type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

func TestReader(t *testing.T) {
	long := strings.Repeat("x", 10000)
	tests := []struct {
		name string
		in   string
		want []string
		err  error
	}{
		{"basic", "data: a\n\ndata: b\n\n", []string{"a", "b"}, nil},
		{"no space", "data:a\n\ndata:  b\n\n", []string{"a", " b"}, nil},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"a", "b"}, nil},
		{"comments", ": ping\n\ndata: a\n: mid\n\n:\n\n", []string{"a"}, nil},
		{"multi-line", "data: {\"a\":\ndata: 1}\n\n", []string{"{\"a\":\n1}"}, nil},
		{"other fields ignored", "event: message\nid: 7\nretry: 10\nfoo\ndata: a\n\n", []string{"a"}, nil},
		{"blank lines only", "\n\n\r\n", nil, nil},
		{"empty data", "data\n\ndata:\n\n", []string{"", ""}, nil},
		{"pending data at EOF", "data: a\n\ndata: [DONE]\n", []string{"a", "[DONE]"}, nil},
		{"partial last line dropped", "data: a\n\ndata: {\"trunc", []string{"a"}, nil},
		{"long line", "data: " + long + "\n\n", []string{long}, nil},
		{"colon in value", "data: {\"a\":\"b:c\"}\n\n", []string{`{"a":"b:c"}`}, nil},
		{"done", "data: x\n\ndata: [DONE]\n\n", []string{"x", "[DONE]"}, nil},
	}
	for _, tc := range tests {
		for _, split := range []int{1, 2, 3, 7, 64, 1 << 20} {
			got, err := readAll(t, &chunked{b: []byte(tc.in), n: split}, 16)
			if !errors.Is(err, tc.err) {
				t.Errorf("%s/split=%d: err %v, want %v", tc.name, split, err, tc.err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("%s/split=%d: got %q, want %q", tc.name, split, got, tc.want)
			}
		}
	}
}

func TestReaderTooLarge(t *testing.T) {
	rd := NewReader(strings.NewReader("data: " + strings.Repeat("x", 200) + "\n\n"))
	rd.MaxEventSize = 100
	if _, err := rd.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("long line: err %v", err)
	}
	rd = NewReader(strings.NewReader(strings.Repeat("data: "+strings.Repeat("x", 40)+"\n", 5) + "\n"))
	rd.MaxEventSize = 100
	if _, err := rd.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("many lines: err %v", err)
	}
}

func TestReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	rd := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))
	if d, err := rd.Next(); err != nil || string(d) != "a" {
		t.Fatalf("first: %q %v", d, err)
	}
	if _, err := rd.Next(); !errors.Is(err, boom) {
		t.Fatalf("second: err %v, want boom", err)
	}
}

// A stream may end its lines in CRLF, LF or a bare CR (the WHATWG
// event-stream format): all three yield the same events, whatever the read
// sizes. A CR at the end of one read followed by an LF at the start of the
// next is one line end (CRLF), not two.
func TestReaderAcceptsBareCRLineEndings(t *testing.T) {
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

// Next returns a transport error as is, also when it comes while looking
// for the LF that may follow an event's final bare CR: the error is not
// dropped (bufio.Reader hands it out only once) and the event after it is
// not returned in its place.
func TestReaderReturnsReadErrorAfterBareCR(t *testing.T) {
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

func TestReaderReset(t *testing.T) {
	rd := NewReader(strings.NewReader("data: a\n\n"))
	if d, _ := rd.Next(); string(d) != "a" {
		t.Fatal(string(d))
	}
	rd.Reset(strings.NewReader("data: b\n\n"))
	if d, _ := rd.Next(); string(d) != "b" {
		t.Fatal(string(d))
	}
}

func testStream(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.WriteString(`data: {"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"microsoft/Phi-3-mini-4k-instruct","choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString(`data: {"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":32,"total_tokens":39}}` + "\n\ndata: [DONE]\n\n")
	return b.Bytes()
}

func TestReaderNoAllocs(t *testing.T) {
	stream := testStream(32)
	br := bytes.NewReader(stream)
	rd := NewReader(br)
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(stream)
		rd.Reset(br)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per stream, want 0", allocs)
	}
}

// BenchmarkReader parses a 32-token completion stream (34 events).
func BenchmarkReader(b *testing.B) {
	stream := testStream(32)
	br := bytes.NewReader(stream)
	rd := NewReader(br)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(stream)
		rd.Reset(br)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*34), "ns/event")
}
