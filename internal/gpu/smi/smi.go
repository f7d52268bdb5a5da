// Package smi is the nvidia-smi backend (`gpu: nvidia-smi`): it runs
// nvidia-smi's CSV queries and parses them with pure functions.
//
//	nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,memory.free,memory.reserved,utilization.gpu,power.draw,clocks.sm,driver_version --format=csv,noheader,nounits
//	nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits
//
// Memory values are MiB (converted to bytes). nvidia-smi's memory.used
// excludes driver-reserved memory, like NVML's v2 call. Drivers that do not
// know memory.reserved are queried again without it.
package smi

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/gpu"
)

// Name is the spec name of this backend.
const Name = "nvidia-smi"

// GPUFields is the --query-gpu field list, in order.
var GPUFields = []string{"index", "uuid", "name", "memory.total", "memory.used", "memory.free",
	"memory.reserved", "utilization.gpu", "power.draw", "clocks.sm", "driver_version"}

// AppFields is the --query-compute-apps field list, in order.
var AppFields = []string{"pid", "gpu_uuid", "used_memory"}

const mib = 1 << 20

// Runner runs nvidia-smi with args and returns its standard output.
type Runner func(ctx context.Context, args ...string) ([]byte, error)

// Options configures the backend.
type Options struct {
	// Device is "" (all GPUs) or nvidia-smi's --id value: an index, UUID or
	// PCI bus id, or a comma-separated list.
	Device string
	// Path of nvidia-smi; "" means look it up on PATH.
	Path string
	// Run overrides the command runner (tests). Nil means ExecRunner(Path).
	Run Runner
	// Timeout bounds one nvidia-smi call when ctx has no deadline (default 15s).
	Timeout time.Duration
}

// Backend implements gpu.Backend with nvidia-smi.
type Backend struct {
	run     Runner
	device  string
	timeout time.Duration

	mu         sync.Mutex
	noReserved bool // the driver rejected memory.reserved
}

var _ gpu.Backend = (*Backend)(nil)

// New checks that nvidia-smi exists and answers, and returns the backend.
// A missing binary or a driver nvidia-smi cannot reach gives an error
// matching gpu.ErrUnavailable.
func New(ctx context.Context, opt Options) (*Backend, error) {
	b := &Backend{run: opt.Run, device: strings.TrimSpace(opt.Device), timeout: opt.Timeout}
	if b.timeout <= 0 {
		b.timeout = 15 * time.Second
	}
	if b.run == nil {
		path := opt.Path
		if path == "" {
			path = "nvidia-smi"
		}
		resolved, err := exec.LookPath(path)
		if err != nil {
			return nil, gpu.Unavailable("nvidia-smi not found (%v); install the NVIDIA driver utilities or use gpu: nvml or host", err)
		}
		b.run = ExecRunner(resolved)
	}
	rows, err := b.query(ctx)
	if err != nil {
		return nil, gpu.Unavailable("nvidia-smi unavailable: %v", err)
	}
	if len(rows) == 0 {
		return nil, gpu.Unavailable("nvidia-smi lists no GPUs")
	}
	return b, nil
}

// ExecRunner runs the binary at path with exec.CommandContext; WaitDelay
// bounds how long a killed nvidia-smi may hold its pipes. A failing run's
// error carries its output.
func ExecRunner(path string) Runner {
	return func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.WaitDelay = 2 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String() + "\n" + stdout.String())
			if ctx.Err() != nil {
				return nil, fmt.Errorf("nvidia-smi %s: %w", strings.Join(args, " "), ctx.Err())
			}
			return stdout.Bytes(), &RunError{Err: err, Output: msg}
		}
		return stdout.Bytes(), nil
	}
}

// RunError is a failed nvidia-smi run with its output.
type RunError struct {
	Err    error
	Output string
}

func (e *RunError) Error() string {
	if e.Output == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Output)
}

func (e *RunError) Unwrap() error { return e.Err }

// Name returns "nvidia-smi".
func (b *Backend) Name() string { return Name }

// GPURow is one --query-gpu line; readings nvidia-smi reports as [N/A] or
// [Not Supported] (or fields not queried) are -1.
type GPURow struct {
	Index             int
	UUID, Name        string
	TotalMiB, UsedMiB float64
	FreeMiB           float64
	ReservedMiB       float64
	UtilPercent       float64
	PowerW            float64
	SMClockMHz        float64
	Driver            string
}

// call runs nvidia-smi, bounded by b.timeout when ctx has no deadline;
// withID adds --id for the selected devices.
func (b *Backend) call(ctx context.Context, withID bool, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	if withID && b.device != "" {
		args = append(args, "--id="+b.device)
	}
	return b.run(ctx, args...)
}

func (b *Backend) query(ctx context.Context) ([]GPURow, error) {
	b.mu.Lock()
	noReserved := b.noReserved
	b.mu.Unlock()
	fields := GPUFields
	if noReserved {
		fields = withoutField(GPUFields, "memory.reserved")
	}
	out, err := b.call(ctx, true, "--query-gpu="+strings.Join(fields, ","), "--format=csv,noheader,nounits")
	if err != nil && !noReserved && mentionsInvalidField(out, err, "memory.reserved") {
		b.mu.Lock()
		b.noReserved = true
		b.mu.Unlock()
		fields = withoutField(GPUFields, "memory.reserved")
		out, err = b.call(ctx, true, "--query-gpu="+strings.Join(fields, ","), "--format=csv,noheader,nounits")
	}
	if err != nil {
		return nil, err
	}
	return ParseGPUs(out, fields)
}

func withoutField(fields []string, drop string) []string {
	var out []string
	for _, f := range fields {
		if f != drop {
			out = append(out, f)
		}
	}
	return out
}

// mentionsInvalidField recognises nvidia-smi's `Field "memory.reserved" is
// not a valid field to query.`
func mentionsInvalidField(out []byte, err error, field string) bool {
	text := string(out) + " " + err.Error()
	return strings.Contains(text, `"`+field+`"`) && strings.Contains(text, "not a valid field")
}

// IsNA reports whether a CSV value is one of nvidia-smi's placeholders:
// [N/A], [Not Supported], [Unknown Error], [Insufficient Permissions], N/A.
func IsNA(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || v == "N/A" || (strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"))
}

func number(v string) float64 {
	if IsNA(v) {
		return -1
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return -1
	}
	return f
}

func readCSV(out []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(out))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var recs [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("nvidia-smi csv: %w", err)
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		recs = append(recs, rec)
	}
}

// ParseGPUs parses --query-gpu CSV output (noheader, nounits) whose columns
// are fields (GPUFields or a subset in the same names). Unknown fields are
// ignored; a missing field reads -1.
func ParseGPUs(out []byte, fields []string) ([]GPURow, error) {
	recs, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	var rows []GPURow
	for n, rec := range recs {
		if len(rec) != len(fields) {
			return nil, fmt.Errorf("nvidia-smi --query-gpu line %d: %d fields, want %d: %q", n+1, len(rec), len(fields), strings.Join(rec, ", "))
		}
		row := GPURow{Index: -1, TotalMiB: -1, UsedMiB: -1, FreeMiB: -1, ReservedMiB: -1, UtilPercent: -1, PowerW: -1, SMClockMHz: -1}
		for i, f := range fields {
			v := rec[i]
			switch f {
			case "index":
				idx, err := strconv.Atoi(v)
				if err != nil {
					return nil, fmt.Errorf("nvidia-smi --query-gpu line %d: index %q", n+1, v)
				}
				row.Index = idx
			case "uuid":
				row.UUID = v
			case "name":
				row.Name = v
			case "driver_version":
				row.Driver = v
			case "memory.total":
				row.TotalMiB = number(v)
			case "memory.used":
				row.UsedMiB = number(v)
			case "memory.free":
				row.FreeMiB = number(v)
			case "memory.reserved":
				row.ReservedMiB = number(v)
			case "utilization.gpu":
				row.UtilPercent = number(v)
			case "power.draw":
				row.PowerW = number(v)
			case "clocks.sm":
				row.SMClockMHz = number(v)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ParseApps parses --query-compute-apps=pid,gpu_uuid,used_memory output.
// No processes is empty output (or "No running processes found"); a
// used_memory of [N/A] (containers, MIG) reads 0.
func ParseApps(out []byte) ([]gpu.ProcessMemory, error) {
	if strings.Contains(string(out), "No running") {
		return nil, nil
	}
	recs, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	var procs []gpu.ProcessMemory
	for n, rec := range recs {
		if len(rec) != len(AppFields) {
			return nil, fmt.Errorf("nvidia-smi --query-compute-apps line %d: %d fields, want %d", n+1, len(rec), len(AppFields))
		}
		pid, err := strconv.Atoi(rec[0])
		if err != nil {
			return nil, fmt.Errorf("nvidia-smi --query-compute-apps line %d: pid %q", n+1, rec[0])
		}
		p := gpu.ProcessMemory{PID: pid, UUID: rec[1]}
		switch m := number(rec[2]); {
		case m < 0: // [N/A], [Not Supported]
			p.Unknown = true
		default:
			p.Used = uint64(m) * mib
		}
		procs = append(procs, p)
	}
	return procs, nil
}

func mibBytes(v float64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v * mib)
}

// Devices lists the GPUs.
func (b *Backend) Devices(ctx context.Context) ([]gpu.Device, error) {
	rows, err := b.query(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]gpu.Device, 0, len(rows))
	for _, r := range rows {
		out = append(out, gpu.Device{Index: r.Index, UUID: r.UUID, Name: r.Name, MemoryTotal: mibBytes(r.TotalMiB), Driver: r.Driver})
	}
	return out, nil
}

// Memory reads each GPU's memory. A GPU whose used or total memory
// nvidia-smi does not know ([N/A], [Not Supported], …) is an error, not 0:
// a 0 would pass a release check whatever the GPU holds.
func (b *Backend) Memory(ctx context.Context) ([]gpu.DeviceMemory, error) {
	rows, err := b.query(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.UsedMiB < 0 || r.TotalMiB < 0 {
			return nil, fmt.Errorf("nvidia-smi: GPU %d (%s) does not report memory.used/memory.total", r.Index, r.UUID)
		}
	}
	return memoryOf(rows), nil
}

func memoryOf(rows []GPURow) []gpu.DeviceMemory {
	out := make([]gpu.DeviceMemory, 0, len(rows))
	for _, r := range rows {
		out = append(out, gpu.DeviceMemory{Index: r.Index, UUID: r.UUID, Total: mibBytes(r.TotalMiB),
			Used: mibBytes(r.UsedMiB), Free: mibBytes(r.FreeMiB), Reserved: mibBytes(r.ReservedMiB)})
	}
	return out
}

// Telemetry reads utilisation, power and SM clock (-1 where unsupported).
func (b *Backend) Telemetry(ctx context.Context) ([]gpu.Sample, error) {
	rows, err := b.query(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]gpu.Sample, 0, len(rows))
	for _, r := range rows {
		out = append(out, gpu.Sample{Time: now, Index: r.Index, UUID: r.UUID, UtilPercent: r.UtilPercent,
			MemUsed: mibBytes(r.UsedMiB), PowerW: r.PowerW, SMClockMHz: r.SMClockMHz})
	}
	return out, nil
}

// Processes lists compute processes on the selected GPUs, keeping only pids
// when pids is non-nil.
func (b *Backend) Processes(ctx context.Context, pids []int) ([]gpu.ProcessMemory, error) {
	var uuids map[string]bool
	if b.device != "" {
		rows, err := b.query(ctx)
		if err != nil {
			return nil, err
		}
		uuids = map[string]bool{}
		for _, r := range rows {
			uuids[r.UUID] = true
		}
	}
	// --id is not applied to the apps query; filter by UUID instead.
	out, err := b.call(ctx, false, "--query-compute-apps="+strings.Join(AppFields, ","), "--format=csv,noheader,nounits")
	if err != nil {
		return nil, err
	}
	procs, err := ParseApps(out)
	if err != nil {
		return nil, err
	}
	return filterProcs(procs, pids, uuids), nil
}

func filterProcs(procs []gpu.ProcessMemory, pids []int, uuids map[string]bool) []gpu.ProcessMemory {
	var want map[int]bool
	if pids != nil {
		want = make(map[int]bool, len(pids))
		for _, p := range pids {
			want[p] = true
		}
	}
	out := []gpu.ProcessMemory{}
	for _, p := range procs {
		if (want == nil || want[p.PID]) && (uuids == nil || uuids[p.UUID]) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].UUID != out[j].UUID {
			return out[i].UUID < out[j].UUID
		}
		return out[i].PID < out[j].PID
	})
	return out
}

// Close does nothing (nvidia-smi runs per call).
func (b *Backend) Close() error { return nil }
