//go:build !linux

package loadgen

import "time"

// pacer waits with a Go timer where no timerfd exists (see pause_linux.go).
type pacer struct{}

func newPacer() (*pacer, error) { return &pacer{}, nil }

func (*pacer) wait(d time.Duration) error {
	time.Sleep(d)
	return nil
}

func (*pacer) close() error { return nil }
