package proc

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultRoot is where the proc filesystem is mounted.
const DefaultRoot = "/proc"

// Stat is what /proc/PID/stat tells about one process (proc(5)). It is the
// one parser of that file in runexp: every package that reads process state
// or walks a process tree goes through it.
type Stat struct {
	PID, PPID, PGID, SID int
	State                byte   // 'R', 'S', 'D', 'Z', 'X', ...
	StartTicks           uint64 // clock ticks after boot; tells a recycled pid apart
	Comm                 string
}

// Zombie reports whether the process has exited ('Z' awaiting its reaping,
// or 'X' dead): it holds no memory and can no longer act.
func (s Stat) Zombie() bool { return s.State == 'Z' || s.State == 'X' }

// ParseStat parses the text of /proc/PID/stat. The comm field may hold
// spaces and parentheses, so the fields after it are counted from the last
// ')'. ok is false for text that lacks any field up to starttime (22).
func ParseStat(b []byte) (Stat, bool) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return Stat{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return Stat{}, false
	}
	f := strings.Fields(string(b[closing+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) == 0 {
		return Stat{}, false
	}
	s := Stat{PID: pid, State: f[0][0], Comm: string(b[open+1 : closing])}
	var err1, err2, err3, err4 error
	s.PPID, err1 = strconv.Atoi(f[1])
	s.PGID, err2 = strconv.Atoi(f[2])
	s.SID, err3 = strconv.Atoi(f[3])
	s.StartTicks, err4 = strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return Stat{}, false
	}
	return s, true
}

// ReadStat reads /proc/PID/stat; ok is false when the process does not
// exist (any more) or /proc is unavailable.
func ReadStat(pid int) (Stat, bool) { return readStatIn(DefaultRoot, pid) }

func readStatIn(root string, pid int) (Stat, bool) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, false
	}
	return ParseStat(b)
}

// PIDs returns, sorted, the pids of the proc filesystem mounted at root
// ("" = DefaultRoot); an error when root cannot be listed.
func PIDs(root string) ([]int, error) {
	if root == "" {
		root = DefaultRoot
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 && e.IsDir() {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids) // os.ReadDir sorts by name, not by number
	return pids, nil
}

// snapshot is one pass over a proc filesystem.
type snapshot struct {
	procs    map[int]Stat
	children map[int][]int // ppid -> pids
	groups   map[int][]int // pgid -> pids
}

// scan reads every process under root once.
func scan(root string) (*snapshot, error) {
	if root == "" {
		root = DefaultRoot
	}
	pids, err := PIDs(root)
	if err != nil {
		return nil, err
	}
	s := &snapshot{
		procs:    make(map[int]Stat, len(pids)),
		children: map[int][]int{},
		groups:   map[int][]int{},
	}
	for _, pid := range pids {
		st, ok := readStatIn(root, pid) // a process may vanish meanwhile
		if !ok {
			continue
		}
		s.procs[pid] = st
		s.children[st.PPID] = append(s.children[st.PPID], pid)
		s.groups[st.PGID] = append(s.groups[st.PGID], pid)
	}
	return s, nil
}

// scanProcs reads every process of /proc once; nil when /proc is unavailable.
func scanProcs() *snapshot {
	s, err := scan(DefaultRoot)
	if err != nil {
		return nil
	}
	return s
}

// descendants is the one process-tree walker: it returns, sorted, the live
// (non-zombie) processes reachable from pid by ppid links. A process whose
// parent already exited has been reparented and is no longer a descendant;
// a zombie has no children left (they were reparented when it died).
func (s *snapshot) descendants(pid int) []int {
	var out []int
	seen := map[int]bool{pid: true}
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range s.children[cur] {
			if seen[c] || s.procs[c].Zombie() {
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

// Tree returns, sorted, pid and its live descendants in the proc filesystem
// mounted at root ("" = DefaultRoot). pid is included even when it has
// exited, so a caller asking about a server's tree always gets the server.
func Tree(root string, pid int) ([]int, error) {
	s, err := scan(root)
	if err != nil {
		return nil, err
	}
	out := append([]int{pid}, s.descendants(pid)...)
	slices.Sort(out)
	return out, nil
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
		if !s.procs[pid].Zombie() {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}
