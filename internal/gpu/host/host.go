// Package host is the backend for CPU-only engines (`gpu: host`): the
// "device" is the host itself, read from /proc.
//
//   - Devices/Memory: MemTotal from /proc/meminfo; Used = MemTotal − MemAvailable,
//     Free = MemAvailable (host-wide, not the container's cgroup limit).
//   - Processes: resident memory per pid as Used, and PSS, both from
//     /proc/PID/smaps_rollup where readable (else VmRSS from status, PSS 0).
//   - Telemetry: CPU utilisation (all CPUs, busy = not idle/iowait) from
//     /proc/stat deltas since the previous Telemetry call (the first call
//     measures from New); power and clock read -1.
package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/proc"
)

// Name is the spec name of this backend.
const Name = "host"

// UUID identifies the host "device" in artifacts.
const UUID = "host"

// Options configures the backend.
type Options struct {
	// ProcRoot is the proc filesystem ("" = /proc); tests point it at a fixture.
	ProcRoot string
}

// Backend implements gpu.Backend over /proc.
type Backend struct {
	proc string
	name string

	mu   sync.Mutex
	last CPUTimes
	util float64
}

var _ gpu.Backend = (*Backend)(nil)

// New checks that /proc is readable.
func New(opt Options) (*Backend, error) {
	b := &Backend{proc: opt.ProcRoot}
	if b.proc == "" {
		b.proc = "/proc"
	}
	if _, err := b.meminfo(); err != nil {
		return nil, gpu.Unavailable("host backend unavailable: %v", err)
	}
	t, err := b.cpu()
	if err != nil {
		return nil, gpu.Unavailable("host backend unavailable: %v", err)
	}
	b.last, b.util = t, -1
	b.name = cpuModel(filepath.Join(b.proc, "cpuinfo"))
	return b, nil
}

// Name returns "host".
func (b *Backend) Name() string { return Name }

func cpuModel(path string) string {
	data, _ := os.ReadFile(path)
	n := 0
	model := ""
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	if n == 0 {
		n = runtime.NumCPU()
	}
	if model == "" {
		model = runtime.GOARCH
	}
	return fmt.Sprintf("host (%s, %d CPUs)", model, n)
}

// meminfo returns /proc/meminfo values in bytes, keyed by field name.
func (b *Backend) meminfo() (map[string]uint64, error) {
	data, err := os.ReadFile(filepath.Join(b.proc, "meminfo"))
	if err != nil {
		return nil, err
	}
	m, err := ParseMeminfo(data)
	if err != nil {
		return nil, err
	}
	if m["MemTotal"] == 0 {
		return nil, errors.New("meminfo has no MemTotal")
	}
	return m, nil
}

// ParseMeminfo parses /proc/meminfo ("MemTotal:  24684084 kB") into bytes.
func ParseMeminfo(data []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("meminfo %s: %w", k, err)
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		out[strings.TrimSpace(k)] = n
	}
	return out, sc.Err()
}

func (b *Backend) memory() (gpu.DeviceMemory, error) {
	m, err := b.meminfo()
	if err != nil {
		return gpu.DeviceMemory{}, fmt.Errorf("host: %w", err)
	}
	avail, ok := m["MemAvailable"]
	if !ok { // kernels before 3.14
		avail = m["MemFree"] + m["Buffers"] + m["Cached"]
	}
	avail = min(avail, m["MemTotal"])
	return gpu.DeviceMemory{Index: 0, UUID: UUID, Total: m["MemTotal"], Used: m["MemTotal"] - avail, Free: avail}, nil
}

// Devices returns the host as the only device.
func (b *Backend) Devices(ctx context.Context) ([]gpu.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := b.memory()
	if err != nil {
		return nil, err
	}
	return []gpu.Device{{Index: 0, UUID: UUID, Name: b.name, MemoryTotal: m.Total}}, nil
}

// Memory returns host memory.
func (b *Backend) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := b.memory()
	if err != nil {
		return nil, err
	}
	return []gpu.DeviceMemory{m}, nil
}

// Processes returns RSS (Used) and PSS per pid. Pids that no longer exist
// are skipped; nil pids means every process in /proc.
func (b *Backend) Processes(ctx context.Context, pids []int) ([]gpu.ProcessMemory, error) {
	if pids == nil {
		var err error
		if pids, err = b.allPIDs(); err != nil {
			return nil, err
		}
	}
	out := []gpu.ProcessMemory{}
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pm, err := b.process(pid)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pm)
	}
	return out, nil
}

var errGone = errors.New("process gone")

func (b *Backend) process(pid int) (gpu.ProcessMemory, error) {
	dir := filepath.Join(b.proc, strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
			return gpu.ProcessMemory{}, errGone
		}
		return gpu.ProcessMemory{}, fmt.Errorf("host: pid %d: %w", pid, err)
	}
	st := statusValues(status)
	pm := gpu.ProcessMemory{PID: pid, UUID: UUID, Used: st["VmRSS"]}
	if rollup, err := os.ReadFile(filepath.Join(dir, "smaps_rollup")); err == nil {
		if r := statusValues(rollup); r["Pss"] > 0 {
			pm.PSS = r["Pss"]
			if r["Rss"] > 0 {
				// RSS and PSS from one snapshot: the two files are read
				// at different moments of a process that may be growing.
				pm.Used = r["Rss"]
			}
		}
	}
	return pm, nil
}

// statusValues extracts "Key: N kB" lines, ignoring the rest.
func statusValues(data []byte) map[string]uint64 {
	out := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
			out[strings.TrimSpace(k)] = n * 1024
		}
	}
	return out
}

func (b *Backend) allPIDs() ([]int, error) {
	pids, err := proc.PIDs(b.proc)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return pids, nil
}

// Tree returns pid and its live descendants (from the parent pids of
// /proc/*/stat), sorted; pid is included even when it has exited.
func (b *Backend) Tree(pid int) ([]int, error) {
	tree, err := proc.Tree(b.proc, pid)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return tree, nil
}

// CPUTimes are cumulative jiffies from /proc/stat.
type CPUTimes struct{ Busy, Total uint64 }

func (b *Backend) cpu() (CPUTimes, error) {
	data, err := os.ReadFile(filepath.Join(b.proc, "stat"))
	if err != nil {
		return CPUTimes{}, err
	}
	return ParseCPU(data)
}

// ParseCPU reads the aggregate "cpu" line of /proc/stat: total is user +
// nice + system + idle + iowait + irq + softirq + steal (guest time is
// already in user), busy is total − idle − iowait.
func ParseCPU(data []byte) (CPUTimes, error) {
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return CPUTimes{}, errors.New("/proc/stat: no aggregate cpu line")
	}
	var v [8]uint64
	for i := 0; i < 8 && i+1 < len(f); i++ {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return CPUTimes{}, fmt.Errorf("/proc/stat: %w", err)
		}
		v[i] = n
	}
	var t CPUTimes
	for _, n := range v {
		t.Total += n
	}
	t.Busy = t.Total - v[3] - v[4]
	return t, nil
}

// Telemetry returns CPU utilisation since the previous call and used memory.
// If too little time passed for the kernel counters to move, the previous
// value is repeated.
func (b *Backend) Telemetry(ctx context.Context) ([]gpu.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := b.cpu()
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	m, err := b.memory()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if dt := t.Total - b.last.Total; t.Total > b.last.Total && dt > 0 {
		db := t.Busy - min(b.last.Busy, t.Busy)
		b.util = 100 * float64(db) / float64(dt)
		b.last = t
	}
	util := b.util
	b.mu.Unlock()
	return []gpu.Sample{{Time: time.Now(), Index: 0, UUID: UUID, UtilPercent: util, MemUsed: m.Used, PowerW: -1, SMClockMHz: -1}}, nil
}

// Close does nothing.
func (b *Backend) Close() error { return nil }
