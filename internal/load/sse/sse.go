// Package sse is a small, allocation-light reader for Server-Sent Events as
// sent by OpenAI-compatible streaming endpoints (vLLM, SGLang, llama.cpp,
// Ollama, TGI).
//
// It follows the WHATWG event-stream rules that matter for these servers:
//
//   - lines end in LF or CRLF (a bare CR is not treated as a line end);
//   - "data:" with or without one following space; several data lines in one
//     event are joined with "\n";
//   - a blank line dispatches the event; lines starting with ':' are comments;
//     other fields (event, id, retry, unknown) are ignored;
//   - bytes may arrive in any split across reads (the reader buffers).
//
// Two deliberate leniencies: pending data lines are dispatched at end of
// stream even without the final blank line (some servers close right after
// "data: [DONE]\n"), while an unterminated last line is dropped (it is a
// truncated write, so the caller sees the stream end without its [DONE]).
//
// After warm-up Next does not allocate: the returned slice aliases an
// internal buffer that is reused by the next call.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// DefaultMaxEventSize bounds one event's data (and one line) in bytes.
const DefaultMaxEventSize = 1 << 20

// ErrEventTooLarge is returned when a line or an event exceeds the reader's
// maximum event size.
var ErrEventTooLarge = errors.New("sse: event too large")

// Reader reads events from an event stream. It is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	data []byte // current event's data
	line []byte // spill buffer for lines longer than the bufio buffer
	// MaxEventSize bounds one line and one event's data; 0 means
	// DefaultMaxEventSize.
	MaxEventSize int
}

// NewReader returns a Reader with a 4 KiB buffer.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, 4096) }

// NewReaderSize returns a Reader whose line buffer has at least size bytes.
func NewReaderSize(r io.Reader, size int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, size), data: make([]byte, 0, 512)}
}

// Reset discards buffered state and makes the Reader read from r, keeping
// its buffers.
func (r *Reader) Reset(rd io.Reader) {
	r.br.Reset(rd)
	r.data = r.data[:0]
}

func (r *Reader) max() int {
	if r.MaxEventSize > 0 {
		return r.MaxEventSize
	}
	return DefaultMaxEventSize
}

// readLine returns the next complete line without its LF/CRLF. A final
// unterminated line is discarded and the read error (io.EOF) returned.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == nil {
		return trimEOL(line), nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	r.line = append(r.line[:0], line...)
	for {
		line, err = r.br.ReadSlice('\n')
		r.line = append(r.line, line...)
		if len(r.line) > r.max() {
			return nil, ErrEventTooLarge
		}
		switch err {
		case nil:
			return trimEOL(r.line), nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1] // '\n'
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// Next returns the data of the next event that has a data field. The slice
// is valid until the next call to Next or Reset. At the end of the stream it
// returns io.EOF; a transport error is returned as is.
func (r *Reader) Next() ([]byte, error) {
	r.data = r.data[:0]
	has := false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && has {
				return r.data, nil
			}
			return nil, err
		}
		if len(line) == 0 {
			if has {
				return r.data, nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, line[len(line):]
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		if string(field) != "data" {
			continue
		}
		if has {
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		has = true
		if len(r.data) > r.max() {
			return nil, ErrEventTooLarge
		}
	}
}
