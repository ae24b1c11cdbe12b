package diameter

import (
	"sync"
	"testing"
	"time"
)

// testJob is a request stand-in: running it runs fn.
type testJob struct {
	fn func()
}

func (j testJob) run() { j.fn() }

// waitUntil polls cond until it holds, failing the test after a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *workerPool[J]) counts() (live, idle int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.live, len(w.idle)
}

// TestWorkerPoolReusesLastIdle checks that after a burst, sequential
// requests go to the worker idle last, leaving the others idle (so that
// they can exit), and that a burst starts as many workers as it needs.
func TestWorkerPoolReusesLastIdle(t *testing.T) {
	w := newWorkerPool[testJob](time.Hour)
	t.Cleanup(w.close)
	const burst = 20
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(burst)
	for range burst {
		w.submit(testJob{fn: func() { started.Done(); <-release }})
	}
	started.Wait() // all twenty run at once: none waited for another
	close(release)
	waitUntil(t, "the burst's workers to be idle", func() bool { _, idle := w.counts(); return idle == burst })

	w.mu.Lock()
	bottom := append([]*worker[testJob](nil), w.idle[:burst-1]...)
	top := w.idle[burst-1]
	since := make([]time.Time, len(bottom))
	for i, wk := range bottom {
		since[i] = wk.idleSince
	}
	w.mu.Unlock()
	for range 50 {
		done := make(chan struct{})
		w.submit(testJob{fn: func() { close(done) }})
		<-done
		waitUntil(t, "the worker to be idle again", func() bool { _, idle := w.counts(); return idle == burst })
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.live != burst {
		t.Fatalf("%d workers, want %d", w.live, burst)
	}
	if w.idle[burst-1] != top {
		t.Error("the sequential requests did not go to the worker idle last")
	}
	for i, wk := range bottom {
		if w.idle[i] != wk || !wk.idleSince.Equal(since[i]) {
			t.Fatalf("worker %d of the burst was used by sequential requests", i)
		}
	}
}

// TestWorkerPoolReapsIdle checks that workers idle for idleFor exit while
// the ones in use stay, and that the pool starts workers again afterwards.
func TestWorkerPoolReapsIdle(t *testing.T) {
	w := newWorkerPool[testJob](100 * time.Millisecond)
	t.Cleanup(w.close)
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(10)
	for range 10 {
		w.submit(testJob{fn: func() { started.Done(); <-release }})
	}
	started.Wait()
	close(release)
	// Keep one worker busy with a steady trickle; the other nine go.
	stop := time.Now().Add(time.Second)
	for time.Now().Before(stop) {
		done := make(chan struct{})
		w.submit(testJob{fn: func() { close(done) }})
		<-done
		if live, _ := w.counts(); live == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if live, _ := w.counts(); live != 1 {
		t.Fatalf("%d workers left under a trickle of requests, want 1", live)
	}
	waitUntil(t, "the last worker to exit", func() bool { live, _ := w.counts(); return live == 0 })
	waitUntil(t, "the reaper to stop", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return !w.reaping })
	done := make(chan struct{})
	w.submit(testJob{fn: func() { close(done) }})
	<-done
	if live, _ := w.counts(); live != 1 {
		t.Fatalf("%d workers after a new request, want 1", live)
	}
}

// TestWorkerPoolClose checks that close ends idle workers, lets running
// ones finish, and that a request submitted after close still runs.
func TestWorkerPoolClose(t *testing.T) {
	w := newWorkerPool[testJob](time.Hour)
	release := make(chan struct{})
	finished := make(chan struct{})
	w.submit(testJob{fn: func() { <-release; close(finished) }})
	idleDone := make(chan struct{})
	w.submit(testJob{fn: func() { close(idleDone) }})
	<-idleDone
	w.close()
	close(release)
	<-finished
	waitUntil(t, "every worker to exit", func() bool { live, _ := w.counts(); return live == 0 })
	late := make(chan struct{})
	w.submit(testJob{fn: func() { close(late) }})
	select {
	case <-late:
	case <-time.After(10 * time.Second):
		t.Fatal("a request submitted after close did not run")
	}
}
