package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartRecordsTheLaunchInTheLedger: Start with a Ledger appends the
// leader, its group, start time, guard, argv[0], port and stop settings.
func TestStartRecordsTheLaunchInTheLedger(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), LedgerName)
	f := startFake(t, time.Second) // a first launch without a ledger
	p, err := Start(Options{Argv: []string{"sleep", "30"}, Ledger: path, Port: 8123, StopGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(t.Context()) })
	entries, err := ReadLedger(path)
	if err != nil || len(entries) != 1 {
		t.Fatalf("ReadLedger = %+v, %v; want one entry", entries, err)
	}
	e := entries[0]
	st, _ := ReadStat(p.PID())
	if e.PID != p.PID() || e.PGID != p.PGID() || e.StartTicks != st.StartTicks || e.StartTicks == 0 ||
		e.GuardPID != p.GuardPID() || e.Argv0 != "sleep" || e.Port != 8123 ||
		e.StopSignal != int(syscall.SIGTERM) || e.StopGrace != 2*time.Second {
		t.Errorf("entry %+v, want pid %d (start %d), guard %d", e, p.PID(), st.StartTicks, p.GuardPID())
	}
	if got := e.Leftovers(); !slices.Contains(got, p.PID()) || slices.Contains(got, f.p.PID()) {
		t.Errorf("Leftovers = %v, want the leader %d and nothing of another launch (%d)", got, p.PID(), f.p.PID())
	}
	host, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if e.Host != host || e.BootID != strings.TrimSpace(string(boot)) || e.Elsewhere() != "" {
		t.Errorf("entry records host %q boot %q (elsewhere %q), want this machine: %q, %q", e.Host, e.BootID, e.Elsewhere(), host, boot)
	}
}

// TestLedgerEntriesOfAnotherHostOrBootAreNotReaped: on a run folder that
// several nodes share, a pid and start time recorded on another node (or
// on this one before a reboot) may match an unrelated process here; such
// entries have no leftovers here and ReapLedger leaves that process alone.
// An entry without a host (an older runexp's ledger) is taken as local.
func TestLedgerEntriesOfAnotherHostOrBootAreNotReaped(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	st, _ := ReadStat(cmd.Process.Pid)
	here := LedgerEntry{PID: st.PID, PGID: st.PID, StartTicks: st.StartTicks, Argv0: "sleep", StopGrace: time.Second}
	otherHost := here
	otherHost.Host = host + "-node7"
	elsewhere := map[string]LedgerEntry{"host " + otherHost.Host: otherHost}
	if _, err := os.Stat("/proc/sys/kernel/random/boot_id"); err == nil {
		rebooted := here
		rebooted.Host, rebooted.BootID = host, "00000000-0000-0000-0000-000000000000"
		elsewhere["host "+host+" before its reboot"] = rebooted
	}
	for want, e := range elsewhere {
		if got := e.Elsewhere(); got != want {
			t.Errorf("Elsewhere = %q, want %q", got, want)
		}
		if got := e.Leftovers(); len(got) != 0 {
			t.Errorf("Leftovers of an entry of %s = %v, want none: those pids are another machine's", want, got)
		}
	}
	if got := here.Leftovers(); !slices.Contains(got, cmd.Process.Pid) {
		t.Errorf("Leftovers of an entry without a host = %v, want %d (taken as local)", got, cmd.Process.Pid)
	}

	path := filepath.Join(t.TempDir(), LedgerName)
	for _, e := range elsewhere {
		if err := AppendLedger(path, e); err != nil {
			t.Fatal(err)
		}
	}
	if found, err := ReapLedger(t.Context(), path); err != nil || len(found) != 0 {
		t.Errorf("ReapLedger = %v, %v; want nothing found", found, err)
	}
	select {
	case <-exited:
		t.Fatal("ReapLedger stopped a process matched by an entry of another machine")
	default:
	}
	if err := AppendLedger(path, here); err != nil {
		t.Fatal(err)
	}
	if found, err := ReapLedger(t.Context(), path); err != nil || !slices.Contains(found, cmd.Process.Pid) {
		t.Errorf("ReapLedger = %v, %v; want the process of the entry without a host", found, err)
	}
}

// TestReapLedgerStopsLeftoversOfAKilledRunOnly: the processes of a recorded
// launch that nobody stopped (its group and their children) are named and
// stopped; a live process whose pid matches an entry but whose start time
// does not (a recycled pid) is left alone; a torn last line is skipped.
func TestReapLedgerStopsLeftoversOfAKilledRunOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), LedgerName)
	start := func(script string) (*exec.Cmd, Stat) {
		cmd := exec.Command("sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		st, _ := ReadStat(cmd.Process.Pid)
		return cmd, st
	}
	leftover, lst := start("sleep 300 & trap '' TERM; sleep 301; wait")
	bystander, bst := start("exec sleep 302")
	for _, e := range []LedgerEntry{
		{PID: lst.PID, PGID: lst.PID, StartTicks: lst.StartTicks, Argv0: "sh", StopGrace: 200 * time.Millisecond},
		{PID: bst.PID, PGID: bst.PID, StartTicks: bst.StartTicks + 1, Argv0: "sleep"}, // recycled pid
	} {
		if err := AppendLedger(path, e); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"pid": 12, "pg`) // runexp killed mid-write
	f.Close()

	entries, err := ReadLedger(path)
	if err != nil || len(entries) != 2 {
		t.Fatalf("ReadLedger = %+v, %v; want 2 entries", entries, err)
	}
	var group []int
	waitFor := time.Now().Add(5 * time.Second)
	for len(group) < 3 && time.Now().Before(waitFor) { // sh, sleep 300, sleep 301
		group = entries[0].Leftovers()
		time.Sleep(10 * time.Millisecond)
	}
	if len(group) != 3 || !slices.Contains(group, leftover.Process.Pid) {
		t.Fatalf("Leftovers = %v, want the shell %d and its two sleeps", group, leftover.Process.Pid)
	}
	if got := entries[1].Leftovers(); len(got) != 0 {
		t.Errorf("Leftovers of a recycled pid = %v, want none", got)
	}
	found, err := ReapLedger(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found, group) {
		t.Errorf("ReapLedger found %v, want %v", found, group)
	}
	if left := waitGone(time.Second, group...); len(left) > 0 {
		t.Errorf("alive after ReapLedger: %v", left)
	}
	if !alive(bystander.Process.Pid) {
		t.Error("ReapLedger killed a process whose start time did not match")
	}
}

// TestReadLedgerOfAMissingFileIsEmpty: a run that launched nothing has no
// ledger, which is not an error.
func TestReadLedgerOfAMissingFileIsEmpty(t *testing.T) {
	entries, err := ReadLedger(filepath.Join(t.TempDir(), LedgerName))
	if err != nil || len(entries) != 0 {
		t.Errorf("ReadLedger = %v, %v", entries, err)
	}
}
