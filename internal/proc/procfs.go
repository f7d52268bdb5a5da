package proc

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
)

// procInfo is what /proc/<pid>/stat tells about one process.
type procInfo struct {
	pid, ppid, pgid, sid int
	state                byte
	start                uint64 // clock ticks after boot; tells a recycled pid apart
	comm                 string
}

func (pi procInfo) zombie() bool { return pi.state == 'Z' || pi.state == 'X' }

// snapshot is one pass over /proc.
type snapshot struct {
	procs    map[int]procInfo
	children map[int][]int // ppid -> pids
	groups   map[int][]int // pgid -> pids
}

// readStat parses /proc/<pid>/stat. The comm field may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func readStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	return parseStat(pid, b)
}

func parseStat(pid int, b []byte) (procInfo, bool) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[closing+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) == 0 {
		return procInfo{}, false
	}
	pi := procInfo{pid: pid, state: f[0][0], comm: string(b[open+1 : closing])}
	var err1, err2, err3, err4 error
	pi.ppid, err1 = strconv.Atoi(f[1])
	pi.pgid, err2 = strconv.Atoi(f[2])
	pi.sid, err3 = strconv.Atoi(f[3])
	pi.start, err4 = strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return procInfo{}, false
	}
	return pi, true
}

// listPIDs returns the numeric entries of /proc, or nil without /proc.
func listPIDs() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// scanProcs reads every process once; nil when /proc is unavailable.
func scanProcs() *snapshot {
	pids := listPIDs()
	if pids == nil {
		return nil
	}
	s := &snapshot{
		procs:    make(map[int]procInfo, len(pids)),
		children: map[int][]int{},
		groups:   map[int][]int{},
	}
	for _, pid := range pids {
		pi, ok := readStat(pid) // a process may vanish meanwhile
		if !ok {
			continue
		}
		s.procs[pid] = pi
		s.children[pi.ppid] = append(s.children[pi.ppid], pid)
		s.groups[pi.pgid] = append(s.groups[pi.pgid], pid)
	}
	return s
}

// Descendants returns, sorted, the live (non-zombie) descendants of pid,
// found by walking the ppid links of /proc/*/stat. A process whose parent
// already exited has been reparented and is no longer a descendant.
func Descendants(pid int) []int {
	s := scanProcs()
	if s == nil {
		return nil
	}
	var out []int
	seen := map[int]bool{pid: true}
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range s.children[cur] {
			if seen[c] || s.procs[c].zombie() {
				continue
			}
			seen[c] = true
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	slices.Sort(out)
	return out
}

// GroupMembers returns, sorted, the live (non-zombie) pids whose process
// group is pgid (field 5 of /proc/*/stat).
func GroupMembers(pgid int) []int {
	s := scanProcs()
	if s == nil {
		return nil
	}
	var out []int
	for _, pid := range s.groups[pgid] {
		if !s.procs[pid].zombie() {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}
