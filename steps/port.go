package steps

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/spec"
)

// Port is a launch's port: a number, 0 (undeclared), or AutoPort, written
// `port: auto`, for a free port chosen when the server starts.
type Port int

// AutoPort is `port: auto`; a value no port number can take.
const AutoPort Port = math.MinInt32

// PortPlaceholder is replaced in a launch's command and env by the port the
// launch uses. ${...} is substituted when the spec is compiled, before an
// auto port is chosen, so the chosen port reaches argv through this
// run-time placeholder instead.
const PortPlaceholder = "{port}"

var (
	_ spec.Unmarshaler = (*Port)(nil)
	_ json.Marshaler   = Port(0)
)

// Auto reports whether the port is chosen at launch.
func (p Port) Auto() bool { return p == AutoPort }

func (p Port) String() string {
	if p.Auto() {
		return "auto"
	}
	return strconv.Itoa(int(p))
}

// MarshalJSON writes a number, or "auto".
func (p Port) MarshalJSON() ([]byte, error) {
	if p.Auto() {
		return []byte(`"auto"`), nil
	}
	return []byte(strconv.Itoa(int(p))), nil
}

// UnmarshalSpec reads a port number or auto. A number may come as text, as
// it does from a string var (`port: ${port}` with `--set port=8001` on a var
// declared `auto`).
func (p *Port) UnmarshalSpec(d *spec.Decoder, n *yaml.Node, path string) spec.ErrorList {
	if n.Kind != yaml.ScalarNode {
		return d.Errorf(n, path, "expected a port number or auto")
	}
	v := strings.TrimSpace(n.Value)
	if v == "auto" {
		*p = AutoPort
		return nil
	}
	x, err := strconv.Atoi(v)
	if err != nil {
		return d.Errorf(n, path, "expected a port number or auto, got %q", n.Value)
	}
	if x < 0 || x > 65535 {
		return d.Errorf(n, path, "must be 0..65535 or auto, got %d", x)
	}
	*p = Port(x)
	return nil
}

// pickFreePort asks the kernel for a port free on host: bind :0, read it, close.
// Another process may take it before the server binds; the window is short,
// and the server's failure to bind then fails the point with its own message.
func pickFreePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("port: auto: no free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// withPort replaces PortPlaceholder in each string by port.
func withPort(list []string, port int) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ReplaceAll(s, PortPlaceholder, strconv.Itoa(port))
	}
	return out
}

// mentionsPort reports whether the command or env hands the port to the server.
func mentionsPort(command []string, env map[string]string) bool {
	for _, s := range command {
		if strings.Contains(s, PortPlaceholder) {
			return true
		}
	}
	for _, s := range env {
		if strings.Contains(s, PortPlaceholder) {
			return true
		}
	}
	return false
}
