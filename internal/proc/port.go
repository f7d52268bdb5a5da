package proc

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PortInUseError reports a port that already has a listener. PID is 0 when
// the owner could not be found (for example a process of another user).
type PortInUseError struct {
	Host string
	Port int
	PID  int
	Comm string
}

func (e *PortInUseError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("port %d already in use by pid %d (%s)", e.Port, e.PID, e.Comm)
	}
	return fmt.Sprintf("port %d already in use", e.Port)
}

// Unwrap makes errors.Is(err, syscall.EADDRINUSE) true.
func (e *PortInUseError) Unwrap() error { return syscall.EADDRINUSE }

// CheckPortFree returns a *PortInUseError when a TCP listener would conflict
// with binding host:port: a LISTEN entry of /proc/net/tcp or tcp6 on that
// port whose address is the host's, or where either side is a wildcard
// (host "", "0.0.0.0" or "::"). The owner is the lowest pid holding the
// socket inode among /proc/*/fd. A host name that does not resolve is
// treated as a wildcard. Without /proc it falls back to a trial bind, which
// reports only EADDRINUSE. Other problems (permission, bad host) are left to
// the server to report.
func CheckPortFree(host string, port int) error {
	inodes, ok := listeningInodes(hostIPs(host), port)
	if !ok {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return &PortInUseError{Host: host, Port: port}
			}
			return nil
		}
		ln.Close()
		return nil
	}
	if len(inodes) == 0 {
		return nil
	}
	e := &PortInUseError{Host: host, Port: port}
	if pid := socketOwner(inodes); pid > 0 {
		e.PID = pid
		if pi, ok := ReadStat(pid); ok {
			e.Comm = pi.Comm
		}
	}
	return e
}

// hostIPs resolves host; nil means wildcard.
func hostIPs(host string) []net.IP {
	if host == "" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return nil
		}
		return []net.IP{ip}
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return nil
	}
	return ips
}

// listeningInodes returns the socket inodes of the LISTEN entries on port
// that conflict with ips (nil: wildcard). ok is false when neither
// /proc/net/tcp nor /proc/net/tcp6 could be read.
func listeningInodes(ips []net.IP, port int) (inodes map[string]bool, ok bool) {
	inodes = map[string]bool{}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		ok = true
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			ip, p, good := parseProcAddr(fields[1])
			if !good || p != port || !conflicts(ip, ips) {
				continue
			}
			if fields[9] != "0" {
				inodes[fields[9]] = true
			} else {
				inodes["?"] = true // in use, owner unknown
			}
		}
		f.Close()
	}
	return inodes, ok
}

func conflicts(listen net.IP, ips []net.IP) bool {
	if ips == nil || listen.IsUnspecified() {
		return true
	}
	for _, ip := range ips {
		if ip.Equal(listen) {
			return true
		}
	}
	return false
}

// parseProcAddr parses "0100007F:1F40" (IPv4) or the 32-hex-digit IPv6 form:
// the address is a sequence of 32-bit words in host byte order.
func parseProcAddr(s string) (net.IP, int, bool) {
	a, p, found := strings.Cut(s, ":")
	if !found {
		return nil, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		w := binary.BigEndian.Uint32(raw[i:])
		binary.NativeEndian.PutUint32(ip[i:], w)
	}
	return ip, int(port), true
}

// socketOwner returns the lowest pid with an fd on one of the socket inodes,
// or 0.
func socketOwner(inodes map[string]bool) int {
	want := map[string]bool{}
	for ino := range inodes {
		want["socket:["+ino+"]"] = true
	}
	best := 0
	pids, _ := PIDs(DefaultRoot) // none without /proc
	for _, pid := range pids {
		if best != 0 && pid >= best {
			continue
		}
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		d, err := os.Open(dir)
		if err != nil {
			continue // gone, or another user's
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, n := range names {
			if link, err := os.Readlink(filepath.Join(dir, n)); err == nil && want[link] {
				best = pid
				break
			}
		}
	}
	return best
}
