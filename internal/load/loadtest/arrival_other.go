//go:build !linux

package loadtest

import (
	"net"
	"time"
)

func wrapListener(ln net.Listener) net.Listener { return ln }

type arrivalConn struct{ net.Conn }

func (c *arrivalConn) takeArrival() (time.Time, bool) { return time.Time{}, false }
func (c *arrivalConn) clearArrival()                  {}
