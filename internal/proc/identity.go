package proc

// Identity reads /proc/<pid>/stat: the process's start time in clock ticks
// after boot (which tells a recycled pid apart from the process that
// recorded it) and whether it is a zombie. ok is false when the process is
// gone or /proc is unreadable.
func Identity(pid int) (startTicks uint64, zombie, ok bool) {
	pi, ok := readStat(pid)
	if !ok {
		return 0, false, false
	}
	return pi.start, pi.zombie(), true
}
