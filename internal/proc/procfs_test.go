package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	line := "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	pi, ok := ParseStat([]byte(line))
	if !ok {
		t.Fatal("not parsed")
	}
	want := Stat{PID: 4242, PPID: 1, PGID: 4242, SID: 4242, State: 'S', StartTicks: 987654, Comm: "we ird) (name)"}
	if pi != want {
		t.Errorf("got %+v, want %+v", pi, want)
	}
	if _, ok := ParseStat([]byte("1 (x) S 0")); ok {
		t.Error("short line parsed")
	}
	if z, _ := ParseStat([]byte("5 (z) Z 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0")); !z.Zombie() {
		t.Error("zombie not detected")
	}
}

// writeProcFixture lays out a proc filesystem with one stat file per entry
// of stats (pid -> "ppid state").
func writeProcFixture(t *testing.T, stats map[int]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, rest := range stats {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var ppid int
		var state string
		if _, err := fmt.Sscan(rest, &ppid, &state); err != nil {
			t.Fatal(err)
		}
		line := strconv.Itoa(pid) + " (p " + strconv.Itoa(pid) + ") " + state + " " + strconv.Itoa(ppid) +
			" " + strconv.Itoa(pid) + " " + strconv.Itoa(pid) + " 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Entries that are not processes are ignored.
	os.WriteFile(filepath.Join(root, "meminfo"), []byte("MemTotal: 1 kB\n"), 0o644)
	os.Mkdir(filepath.Join(root, "self"), 0o755)
	return root
}

func TestTreeHoldsPIDAndItsLiveDescendantsSorted(t *testing.T) {
	t.Parallel()
	root := writeProcFixture(t, map[int]string{
		10: "1 S",  // the server
		30: "10 S", // its worker
		12: "30 S", // the worker's child: a descendant whatever its pid
		31: "10 Z", // an exited worker not yet reaped: gone
		40: "1 S",  // unrelated
	})
	got, err := Tree(root, 10)
	if err != nil || !reflect.DeepEqual(got, []int{10, 12, 30}) {
		t.Errorf("Tree(10) = %v, %v; want [10 12 30]", got, err)
	}
	// The asked pid is part of its tree even after it exited.
	got, err = Tree(root, 99)
	if err != nil || !reflect.DeepEqual(got, []int{99}) {
		t.Errorf("Tree(99) = %v, %v; want [99]", got, err)
	}
}

func TestTreeWithoutProcFilesystemIsAnError(t *testing.T) {
	t.Parallel()
	if _, err := Tree(filepath.Join(t.TempDir(), "missing"), 1); err == nil {
		t.Error("no error for a missing proc filesystem")
	}
}

func TestPIDsAreSortedNumerically(t *testing.T) {
	t.Parallel()
	root := writeProcFixture(t, map[int]string{9: "1 S", 100: "1 S", 20: "1 S"})
	got, err := PIDs(root)
	if err != nil || !reflect.DeepEqual(got, []int{9, 20, 100}) {
		t.Errorf("PIDs = %v, %v; want [9 20 100]", got, err)
	}
}
