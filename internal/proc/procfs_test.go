package proc

import "testing"

func TestParseStat(t *testing.T) {
	t.Parallel()
	line := "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	pi, ok := parseStat(4242, []byte(line))
	if !ok {
		t.Fatal("not parsed")
	}
	want := procInfo{pid: 4242, ppid: 1, pgid: 4242, sid: 4242, state: 'S', start: 987654, comm: "we ird) (name)"}
	if pi != want {
		t.Errorf("got %+v, want %+v", pi, want)
	}
	if _, ok := parseStat(1, []byte("1 (x) S 0")); ok {
		t.Error("short line parsed")
	}
	if z, _ := parseStat(5, []byte("5 (z) Z 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0")); !z.zombie() {
		t.Error("zombie not detected")
	}
}
