package load

import (
	"errors"
	"strconv"
)

// chunk is what the engine needs from one OpenAI-compatible JSON object
// (a streamed chunk or a whole non-streamed response).
type chunk struct {
	choices      int    // number of elements in "choices"
	content      bool   // some choice has non-empty text / delta.content / delta.reasoning(_content) / message.content
	text         []byte // raw (JSON-escaped) text / content of the last choice that had one (aliases the input)
	finish       []byte // raw finish_reason of the last choice that had one (aliases the input)
	hasUsage     bool   // "usage" is an object
	promptTokens int
	complTokens  int
	isError      bool   // top-level "error" key or "object":"error"
	errMsg       []byte // raw error message (aliases the input)
}

var errJSON = errors.New("malformed JSON")

const maxDepth = 64

// parseChunk validates b as one JSON object and extracts the fields above
// without allocating. Unknown members are skipped (but validated).
func parseChunk(b []byte, c *chunk) error {
	*c = chunk{}
	s := scanner{b: b}
	if !s.object(func(key []byte) bool {
		switch string(key) {
		case "choices":
			return s.choices(c)
		case "usage":
			return s.usage(c)
		case "error":
			c.isError = true
			if s.peek() == '{' {
				return s.object(func(k []byte) bool {
					if string(k) == "message" && s.peek() == '"' {
						v, ok := s.str()
						c.errMsg = v
						return ok
					}
					return s.skip(1)
				})
			}
			if s.peek() == '"' {
				v, ok := s.str()
				c.errMsg = v
				return ok
			}
			return s.skip(1)
		case "object":
			if s.peek() == '"' {
				v, ok := s.str()
				if string(v) == "error" {
					c.isError = true
				}
				return ok
			}
			return s.skip(1)
		case "message":
			if s.peek() == '"' {
				v, ok := s.str()
				if c.errMsg == nil {
					c.errMsg = v
				}
				return ok
			}
			return s.skip(1)
		}
		return s.skip(1)
	}) {
		return errJSON
	}
	s.ws()
	if s.i != len(s.b) {
		return errJSON
	}
	return nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object parses {"k": v, ...}; member must consume the value.
// The callback is a closure over stack values; it does not escape.
func (s *scanner) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		k, ok := s.str()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !member(k) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array parses [v, ...]; elem must consume one value.
func (s *scanner) array(elem func() bool) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		s.ws()
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// str parses a string and returns its raw (still escaped) contents.
func (s *scanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return nil, false
					}
				}
				s.i += 6
			default:
				return nil, false
			}
		case c < 0x20:
			return nil, false
		default:
			s.i++
		}
	}
	return nil, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// num parses a JSON number and returns it truncated to int.
func (s *scanner) num() (int, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == digits || (s.b[digits] == '0' && s.i-digits > 1) {
		return 0, false
	}
	integral := true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		integral = false
		s.i++
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return 0, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		integral = false
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return 0, false
		}
	}
	raw := s.b[start:s.i]
	if integral && len(raw) <= 18 {
		n := 0
		neg := raw[0] == '-'
		if neg {
			raw = raw[1:]
		}
		for _, c := range raw {
			n = n*10 + int(c-'0')
		}
		if neg {
			n = -n
		}
		return n, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, false
	}
	return int(f), true
}

func (s *scanner) lit(w string) bool {
	s.ws()
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

// skip validates and skips any value.
func (s *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case c == '"':
		_, ok := s.str()
		return ok
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		_, ok := s.num()
		return ok
	}
	return false
}

// nonEmptyString consumes a string or null and reports whether it was a
// non-empty string.
func (s *scanner) nonEmptyString() (bool, bool) {
	switch s.peek() {
	case '"':
		v, ok := s.str()
		return len(v) > 0, ok
	case 'n':
		return false, s.lit("null")
	}
	return false, s.skip(1)
}

func (s *scanner) choices(c *chunk) bool {
	if s.peek() == 'n' {
		return s.lit("null")
	}
	return s.array(func() bool {
		c.choices++
		return s.object(func(key []byte) bool {
			switch string(key) {
			case "text":
				return c.readText(s)
			case "delta", "message":
				if s.peek() != '{' {
					return s.skip(1)
				}
				return s.object(func(k []byte) bool {
					switch string(k) {
					case "content":
						return c.readText(s)
					case "reasoning_content", "reasoning":
						ne, ok := s.nonEmptyString()
						c.content = c.content || ne
						return ok
					}
					return s.skip(2)
				})
			case "finish_reason":
				if s.peek() == '"' {
					v, ok := s.str()
					c.finish = v
					return ok
				}
				return s.skip(2)
			}
			return s.skip(2)
		})
	})
}

func (s *scanner) usage(c *chunk) bool {
	if s.peek() != '{' {
		return s.skip(1)
	}
	c.hasUsage = true
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "prompt_tokens":
			if s.peek() == 'n' {
				return s.lit("null")
			}
			n, ok := s.num()
			c.promptTokens = n
			return ok
		case "completion_tokens":
			if s.peek() == 'n' {
				return s.lit("null")
			}
			n, ok := s.num()
			c.complTokens = n
			return ok
		}
		return s.skip(2)
	})
}

// finishString interns common finish reasons so recording one allocates
// nothing.
func finishString(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "length":
		return "length"
	case "stop":
		return "stop"
	case "abort":
		return "abort"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	case "eos":
		return "eos"
	}
	return string(b)
}

// readText consumes a choice's text or content (a string or null) into
// c.text and c.content.
func (c *chunk) readText(s *scanner) bool {
	if s.peek() == '"' {
		v, ok := s.str()
		c.text = v
		c.content = c.content || len(v) > 0
		return ok
	}
	ne, ok := s.nonEmptyString()
	c.content = c.content || ne
	return ok
}
