package loadtest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The arrival of bytes is the kernel's receive time, not the time Read
// was called, and it stays claimed until taken.
func TestArrivalIsReceiveTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := wrapListener(ln)
	defer wl.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := wl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ac, ok := c.(*arrivalConn)
	if !ok {
		t.Fatalf("accepted %T, want *arrivalConn", c)
	}
	if _, ok := ac.takeArrival(); ok {
		t.Fatal("arrival before any byte")
	}

	// The system turns receive timestamps on with a deferred work item:
	// wait until reads carry them.
	buf := make([]byte, 2)
	for start := time.Now(); ; {
		client.Write([]byte("z"))
		if n, err := ac.Read(buf[:1]); n != 1 || err != nil {
			t.Fatal(n, err)
		}
		if ac.stamped {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("no kernel receive timestamps after 5s")
		}
		time.Sleep(time.Millisecond)
	}
	ac.clearArrival()

	client.Write([]byte("abc"))
	time.Sleep(40 * time.Millisecond) // the bytes wait in the socket
	if n, err := ac.Read(buf); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := ac.Read(buf); n != 1 || err != nil { // a later read keeps the first arrival
		t.Fatal(n, err)
	}
	at, ok := ac.takeArrival()
	if !ok {
		t.Fatal("no arrival after a read")
	}
	if ago := time.Since(at); ago < 35*time.Millisecond {
		t.Fatalf("arrival %v ago, want >= 40ms (the time the bytes waited)", ago)
	}
	if _, ok := ac.takeArrival(); ok {
		t.Fatal("arrival taken twice")
	}

	client.Write([]byte("d"))
	if n, err := ac.Read(buf); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	ac.clearArrival()
	if _, ok := ac.takeArrival(); ok {
		t.Fatal("arrival after clearArrival")
	}
	client.Close()
	if n, err := ac.Read(buf); n != 0 || err == nil {
		t.Fatalf("after close: %d %v, want EOF", n, err)
	}
}

// A request whose bytes arrive over 30 ms is timed from its first byte: the
// first token comes TTFT after it, not TTFT after the handler started.
func TestServerTimesFromArrival(t *testing.T) {
	s := NewServer(Script{TTFT: 60 * time.Millisecond, Tokens: 1})
	defer s.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"model":"m","prompt":"p","max_tokens":1,"stream":true}`
	req := fmt.Sprintf("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	start := time.Now()
	conn.Write([]byte(req[:1]))
	time.Sleep(30 * time.Millisecond)
	conn.Write([]byte(req[1:]))
	br := bufio.NewReader(conn)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: {") {
			break
		}
	}
	// From the handler's start the first token would come at >= 90 ms.
	if got := time.Since(start); got < 60*time.Millisecond || got >= 85*time.Millisecond {
		t.Fatalf("first token after %v, want 60ms (+ scheduling) from the first byte", got)
	}
	d := s.FirstTokenDelays()
	for wait := time.Now(); len(d) == 0 && time.Since(wait) < time.Second; d = s.FirstTokenDelays() {
		time.Sleep(time.Millisecond) // the handler records the delay after its flush returns
	}
	if len(d) != 1 || d[0] < 60*time.Millisecond || d[0] >= 85*time.Millisecond {
		t.Fatalf("server-side first-token delays %v", d)
	}
}

// On a keep-alive connection each request is timed from the arrival of
// its own first bytes, also after a request the server answered without
// reading its body (404, 405, stats): net/http discards that body after the
// handler returned, and its arrival must not be taken for the next
// request's, which would make a 200 ms TTFT read ~0.
func TestServerTimesKeptAliveRequestFromItsOwnArrival(t *testing.T) {
	s := NewServer(Script{TTFT: 200 * time.Millisecond})
	defer s.Close()
	c, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)

	// 1. A POST to an unknown path whose body arrives in two parts.
	c.Write([]byte("POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("67890"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Close {
		t.Fatalf("status %d close %v, want a kept-alive 404", resp.StatusCode, resp.Close)
	}

	// 2. Later, a streamed request on the same connection.
	time.Sleep(300 * time.Millisecond)
	body := `{"model":"m","prompt":"hi","max_tokens":1,"stream":true}`
	sent := time.Now()
	c.Write([]byte("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body))
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("no token: %v", err)
		}
		if strings.HasPrefix(line, "data:") {
			break
		}
	}
	if got := time.Since(sent); got < 180*time.Millisecond {
		t.Fatalf("first token %v after the request was sent, want 200ms (TTFT): timed from the previous request's body", got.Round(time.Millisecond))
	}
}

// A deadline added before an earlier one is armed for the earlier one:
// sleepers wake in deadline order and never early.
func TestSleepUntil(t *testing.T) {
	start := time.Now()
	deadlines := []time.Duration{200, 10, 60, 30} // ms
	woke := make([]time.Duration, len(deadlines))
	var wg sync.WaitGroup
	for i, d := range deadlines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleepUntil(start.Add(d * time.Millisecond))
			woke[i] = time.Since(start)
		}()
		time.Sleep(time.Millisecond) // add them in the listed order
	}
	wg.Wait()
	for i, d := range deadlines {
		want := d * time.Millisecond
		if woke[i] < want {
			t.Errorf("deadline %v: woke early at %v", want, woke[i])
		}
		if i > 0 && woke[i] >= 150*time.Millisecond {
			t.Errorf("deadline %v: woke at %v, after the 200ms deadline's time (not re-armed)", want, woke[i])
		}
	}
	sleepUntil(start) // in the past: returns at once
}
