package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunFolderLockRefusesASecondHolderAndNamesIt: while one holder has the
// lock, a second attempt fails with ErrRunLocked naming the holder's pid;
// once released, the lock can be taken again and its file is gone.
func TestRunFolderLockRefusesASecondHolderAndNamesIt(t *testing.T) {
	dir := t.TempDir()
	first, err := lockRunFolder(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockRunFolder(dir, nil)
	if !errors.Is(err, ErrRunLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v; want ErrRunLocked naming pid %d", err, os.Getpid())
	}
	first.release()
	if _, err := os.Stat(filepath.Join(dir, LockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after release: %v", err)
	}
	again, err := lockRunFolder(dir, nil)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.release()
}

// TestStaleRunFolderLockIsTakenOverWithAMessage: a lock file left by a
// process that is gone (SIGKILL leaves one) is taken over, and the message
// names the dead owner.
func TestStaleRunFolderLockIsTakenOverWithAMessage(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	stale, _ := json.Marshal(LockOwner{PID: dead.Process.Pid, Host: host, Since: time.Now()})
	if err := os.WriteFile(filepath.Join(dir, LockName), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	l, err := lockRunFolder(dir, &out)
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	defer l.release()
	want := "taking over the stale lock of runexp pid " + strconv.Itoa(dead.Process.Pid)
	if !strings.Contains(out.String(), want) {
		t.Errorf("message %q, want it to contain %q", out.String(), want)
	}
	f, _ := os.Open(filepath.Join(dir, LockName))
	defer f.Close()
	if o, err := readLockOwner(f); err != nil || o.PID != os.Getpid() {
		t.Errorf("lock owner after take-over: %+v, %v; want this process", o, err)
	}
}
