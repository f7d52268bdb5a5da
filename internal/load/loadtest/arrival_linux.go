package loadtest

import (
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Under a burst (256 requests written at once on two shared cores) a
// handler starts milliseconds after its request reached the socket, and a
// script timed from the handler's start would add that queueing to every
// TTFT. Served through Handler.Serve, the script is timed from the kernel's
// receive timestamp of the request's first bytes (SO_TIMESTAMPNS), as a
// real server's TTFT would be seen on the wire.

// arrivalListener enables receive timestamps on every accepted TCP
// connection; other connections pass through.
type arrivalListener struct{ net.Listener }

func wrapListener(ln net.Listener) net.Listener {
	// Set on the listening socket too: accepted sockets inherit it, and the
	// kernel turns receive timestamps on for the system only after a
	// deferred work item runs, so turning them on now, before any client
	// connects, keeps the first requests from arriving unstamped.
	if tl, ok := ln.(*net.TCPListener); ok {
		if rc, err := tl.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
			})
		}
	}
	return arrivalListener{ln}
}

func (l arrivalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return c, nil
	}
	return &arrivalConn{TCPConn: tc, rc: rc}, nil
}

// arrivalConn is a TCP connection whose reads record when the first bytes
// of the next request arrived. It does not embed the TCPConn's io.WriterTo
// or io.ReaderFrom, so every read goes through Read.
type arrivalConn struct {
	*net.TCPConn
	rc      syscall.RawConn
	pending atomic.Int64 // wall-clock ns of the first unclaimed arrival; 0: none
	oob     [128]byte
	stamped bool // the last read carried a kernel timestamp (tests)
}

// Read reads with recvmsg to get the kernel's receive timestamp.
func (c *arrivalConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n, oobn int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, c.oob[:], 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	ts, ok := rxTimestamp(c.oob[:oobn])
	c.stamped = ok
	if !ok {
		ts = time.Now().UnixNano()
	}
	if c.pending.Load() == 0 {
		c.pending.CompareAndSwap(0, ts)
	}
	return n, nil
}

// rxTimestamp returns the SCM_TIMESTAMPNS in oob, if there is one.
func rxTimestamp(oob []byte) (int64, bool) {
	msgs, _ := unix.ParseSocketControlMessage(oob)
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return sec*1e9 + nsec, true
		}
	}
	return 0, false
}

// WriteTo and ReadFrom hide the TCPConn's, which would bypass Read.
func (c *arrivalConn) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, struct{ io.Reader }{c}) }
func (c *arrivalConn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{c.TCPConn}, r)
}

// takeArrival returns when the bytes not yet claimed by a request arrived
// (as a time with a monotonic reading, for time arithmetic) and clears it.
func (c *arrivalConn) takeArrival() (time.Time, bool) {
	ns := c.pending.Swap(0)
	if ns == 0 {
		return time.Time{}, false
	}
	now := time.Now()
	ago := now.Sub(time.Unix(0, ns))
	if ago < 0 || ago > time.Minute { // the wall clock stepped
		return now, true
	}
	return now.Add(-ago), true
}

func (c *arrivalConn) clearArrival() { c.pending.Store(0) }
