package loadtest

import (
	"container/heap"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Go's timers wait in epoll_wait, whose timeout has millisecond
// resolution, so time.Sleep(50ms) returns 0.2-1 ms late here. A server
// whose scripted TTFT is itself late by that much cannot tell a client's
// measurement error from its own, so the fake server wakes its handlers
// from one timerfd instead: the netpoller wakes on the fd with microsecond
// precision. Deadlines wait in a heap; the fd is armed for the earliest.
type preciseClock struct {
	mu     sync.Mutex
	fd     int
	f      *os.File
	due    deadlines
	broken bool // the fd failed: sleepers fall back to time.Sleep
}

type deadline struct {
	at   int64 // CLOCK_MONOTONIC ns
	wake chan struct{}
}

type deadlines []deadline

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].at < d[j].at }
func (d deadlines) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *deadlines) Push(x any)        { *d = append(*d, x.(deadline)) }
func (d *deadlines) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}

var (
	clockOnce sync.Once
	clock     *preciseClock // nil when timerfd is unavailable
)

func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func startClock() {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return
	}
	c := &preciseClock{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
	go c.loop()
	clock = c
}

// arm sets the timerfd to the earliest deadline; c.mu is held.
func (c *preciseClock) arm() {
	var spec unix.ItimerSpec // zero: disarmed
	if len(c.due) > 0 {
		spec.Value = unix.NsecToTimespec(c.due[0].at)
	}
	unix.TimerfdSettime(c.fd, unix.TFD_TIMER_ABSTIME, &spec, nil)
}

func (c *preciseClock) loop() {
	var buf [8]byte
	for {
		if _, err := c.f.Read(buf[:]); err != nil {
			// Never expected; wake everyone early rather than never.
			c.mu.Lock()
			c.broken = true
			for _, d := range c.due {
				close(d.wake)
			}
			c.due = nil
			c.mu.Unlock()
			return
		}
		now := monoNow()
		c.mu.Lock()
		for len(c.due) > 0 && c.due[0].at <= now {
			close(heap.Pop(&c.due).(deadline).wake)
		}
		c.arm()
		c.mu.Unlock()
	}
}

func sleepUntil(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	clockOnce.Do(startClock)
	if clock == nil {
		time.Sleep(d)
		return
	}
	// An absolute ABSTIME deadline of 0 would disarm the timer; at is
	// always far from 0 on a running system.
	dl := deadline{at: monoNow() + int64(d), wake: make(chan struct{})}
	clock.mu.Lock()
	if clock.broken {
		clock.mu.Unlock()
		time.Sleep(d)
		return
	}
	heap.Push(&clock.due, dl)
	if clock.due[0].wake == dl.wake {
		clock.arm()
	}
	clock.mu.Unlock()
	<-dl.wake
	if rest := time.Until(t); rest > 0 { // woken early by a failed fd
		time.Sleep(rest)
	}
}
