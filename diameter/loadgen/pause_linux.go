package loadgen

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pacer waits for short, exact intervals. Go's timers cannot wait less than
// about a millisecond on Linux (the netpoller's epoll_wait takes
// milliseconds): an open-loop sender that slept on them would send each
// request up to a millisecond after its intended time, and that lateness,
// counted in the latency (measured from the intended time), would hide the
// server's own. A timerfd in the netpoller wakes epoll_wait itself, at the
// kernel's hrtimer precision (plus its timer slack, 50 us by default), and
// the waiting goroutine is parked like any network read: no thread and no P
// held, no CPU spent.
type pacer struct {
	fd int
	f  *os.File
}

func newPacer() (*pacer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loadgen: timerfd: %w", err)
	}
	// A non-blocking descriptor: os.NewFile registers it with the netpoller.
	return &pacer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

// wait returns after d.
func (p *pacer) wait(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	its := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(p.fd, 0, &its, nil); err != nil {
		return fmt.Errorf("loadgen: timerfd settime: %w", err)
	}
	var expirations [8]byte
	if _, err := p.f.Read(expirations[:]); err != nil {
		return fmt.Errorf("loadgen: timerfd read: %w", err)
	}
	return nil
}

func (p *pacer) close() error { return p.f.Close() }
