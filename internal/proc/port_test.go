package proc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestCheckPortFree(t *testing.T) {
	t.Parallel()
	self, ok := ReadStat(os.Getpid())
	if !ok {
		t.Skip("no /proc")
	}
	listen := func(addr string) int {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("listen %s: %v", addr, err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().(*net.TCPAddr).Port
	}
	loop := listen("127.0.0.1:0")
	wild := listen(":0")
	free := freePort(t)

	tests := []struct {
		name   string
		host   string
		port   int
		inUse  bool
		byUs   bool
		exactM string
	}{
		{name: "own loopback listener", host: "127.0.0.1", port: loop, inUse: true, byUs: true,
			exactM: fmt.Sprintf("port %d already in use by pid %d (%s)", loop, os.Getpid(), self.Comm)},
		{name: "own listener, wildcard host", host: "0.0.0.0", port: loop, inUse: true, byUs: true},
		{name: "own listener, empty host", host: "", port: loop, inUse: true, byUs: true},
		{name: "own listener, localhost", host: "localhost", port: loop, inUse: true, byUs: true},
		{name: "wildcard listener blocks loopback", host: "127.0.0.1", port: wild, inUse: true, byUs: true},
		{name: "other loopback address is free", host: "127.0.0.2", port: loop},
		{name: "free port", host: "127.0.0.1", port: free},
		{name: "free port, wildcard", host: "0.0.0.0", port: free},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPortFree(tt.host, tt.port)
			if !tt.inUse {
				if err != nil {
					t.Fatalf("CheckPortFree = %v, want nil", err)
				}
				return
			}
			var pe *PortInUseError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckPortFree = %v, want *PortInUseError", err)
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Error("error is not EADDRINUSE")
			}
			if tt.byUs && pe.PID != os.Getpid() {
				t.Errorf("PID = %d, want %d (%v)", pe.PID, os.Getpid(), err)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("port %d already in use", tt.port)) {
				t.Errorf("message %q", err)
			}
			if tt.exactM != "" && err.Error() != tt.exactM {
				t.Errorf("message %q, want %q", err, tt.exactM)
			}
		})
	}
}

func TestPortInUseErrorWithoutOwner(t *testing.T) {
	t.Parallel()
	if got := (&PortInUseError{Port: 8000}).Error(); got != "port 8000 already in use" {
		t.Errorf("got %q", got)
	}
}

func TestParseProcAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		ip   string
		port int
	}{
		{"0100007F:1F40", "127.0.0.1", 8000},
		{"00000000:0050", "0.0.0.0", 80},
		{"00000000000000000000000000000000:1F90", "::", 8080},
		{"00000000000000000000000001000000:1F90", "::1", 8080},
		{"0000000000000000FFFF00000100007F:1F40", "127.0.0.1", 8000},
	}
	for _, tt := range tests {
		ip, port, ok := parseProcAddr(tt.in)
		if !ok || !ip.Equal(net.ParseIP(tt.ip)) || port != tt.port {
			t.Errorf("parseProcAddr(%q) = %v, %d, %v; want %s, %d", tt.in, ip, port, ok, tt.ip, tt.port)
		}
	}
	for _, bad := range []string{"", "0100007F", "zz:1F40", "0100007F:zz", "01:0050"} {
		if _, _, ok := parseProcAddr(bad); ok {
			t.Errorf("parseProcAddr(%q) ok", bad)
		}
	}
}
