// Package sse is a small, allocation-light reader for Server-Sent Events as
// sent by OpenAI-compatible streaming endpoints (vLLM, SGLang, llama.cpp,
// Ollama, TGI).
//
// It follows the WHATWG event-stream rules that matter for these servers:
//
//   - lines end in LF, CRLF or a bare CR;
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
	br     *bufio.Reader
	data   []byte // current event's data
	line   []byte // spill buffer for lines longer than the bufio buffer
	skipLF bool   // the last line ended in a CR that was the last buffered byte
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
	r.skipLF = false
}

func (r *Reader) max() int {
	if r.MaxEventSize > 0 {
		return r.MaxEventSize
	}
	return DefaultMaxEventSize
}

// readLine returns the next complete line without its line end (CRLF, LF
// or a bare CR). A final unterminated line is discarded and the read error
// (io.EOF) returned. The slice is valid until the next read.
func (r *Reader) readLine() ([]byte, error) {
	if r.skipLF {
		// The last line ended in CR at the end of the buffered bytes: an LF
		// right after it belongs to that line end. Checked only now, so an
		// event is never held back waiting for the next byte.
		r.skipLF = false
		b, err := r.br.Peek(1)
		if err != nil {
			return nil, err // bufio hands an error out once: keep it
		}
		if b[0] == '\n' {
			r.br.Discard(1)
		}
	}
	r.line = r.line[:0]
	for {
		n := r.br.Buffered()
		if n == 0 {
			if _, err := r.br.Peek(1); err != nil {
				return nil, err
			}
			n = r.br.Buffered()
		}
		buf, _ := r.br.Peek(n)
		i := indexEOL(buf)
		if i < 0 {
			r.line = append(r.line, buf...)
			r.br.Discard(n)
			if len(r.line) > r.max() {
				return nil, ErrEventTooLarge
			}
			if _, err := r.br.Peek(1); err != nil {
				return nil, err
			}
			continue
		}
		line := buf[:i]
		if len(r.line) > 0 {
			r.line = append(r.line, line...)
			line = r.line
			if len(line) > r.max() {
				return nil, ErrEventTooLarge
			}
		}
		skip := i + 1
		if buf[i] == '\r' {
			switch {
			case i+1 == n:
				r.skipLF = true
			case buf[i+1] == '\n':
				skip++
			}
		}
		r.br.Discard(skip)
		return line, nil
	}
}

// indexEOL returns the index of the first CR or LF in b, or -1.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	end := b
	if i >= 0 {
		end = b[:i]
	}
	if j := bytes.IndexByte(end, '\r'); j >= 0 {
		return j
	}
	return i
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
			if errors.Is(err, io.EOF) && has {
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
