package diameter

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
)

// workerIdle is how long a request worker waits for the next request before
// it exits.
const workerIdle = 5 * time.Second

// job is one application request handed to a worker.
type job struct {
	c       *conn
	ctx     context.Context
	e       *appEntry
	handler Handler
	m       *diam.Message
	recv    time.Time
}

func (j job) run() {
	defer func() {
		<-j.c.sem
		j.c.inflight.done()
	}()
	j.c.dispatch(j.ctx, j.e, j.handler, j.m, j.recv)
}

// workers runs the server's application requests.
type workers = workerPool[job]

func newWorkers() *workers { return newWorkerPool[job](workerIdle) }

// runner is what a workerPool runs: job, or a stand-in in tests.
type runner interface{ run() }

// workerPool runs requests on long-lived goroutines. A goroutine
// started per request begins with a small stack and grows it (copying) on
// the way through decode, handler, Milenage and serialization, every time:
// a worker keeps its grown stack from one request to the next. A request
// that finds no idle worker starts a new one, so concurrency is never
// limited here (the per-connection semaphore limits it).
//
// The idle workers form a stack: a request goes to the worker that became
// idle last, whose stack and data are still in the CPU's caches, and the
// workers a burst started and steady traffic does not need stay idle and
// exit after idleFor (workerIdle). (Handing requests over one unbuffered channel
// woke the idle workers in turn, first idle first: after a burst of 300
// concurrent requests, all 300 kept serving, each in turn, for as long as
// traffic lasted.)
type workerPool[J runner] struct {
	idleFor time.Duration

	mu      sync.Mutex
	idle    []*worker[J] // the worker idle longest first
	live    int          // worker goroutines
	reaping bool         // the reap goroutine runs

	stop     chan struct{}
	stopOnce sync.Once
}

type worker[J runner] struct {
	// ch carries the next job, or is closed to make the worker exit. Only
	// the one who took the worker off the idle stack sends or closes, so a
	// capacity of one never blocks.
	ch        chan J
	idleSince time.Time
}

func newWorkerPool[J runner](idleFor time.Duration) *workerPool[J] {
	return &workerPool[J]{idleFor: idleFor, stop: make(chan struct{})}
}

// submit runs j on the worker idle last, or on a new one.
func (w *workerPool[J]) submit(j J) {
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		wk := w.idle[n-1]
		w.idle[n-1] = nil
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		wk.ch <- j
		return
	}
	w.live++
	if !w.reaping {
		w.reaping = true
		go w.reap()
	}
	w.mu.Unlock()
	go w.loop(&worker[J]{ch: make(chan J, 1)}, j)
}

func (w *workerPool[J]) loop(wk *worker[J], j J) {
	var none J
	for {
		j.run()
		j = none // hold no request while idle
		w.mu.Lock()
		wk.idleSince = time.Now()
		w.idle = append(w.idle, wk)
		w.mu.Unlock()
		select {
		case next, ok := <-wk.ch:
			if !ok {
				return // reaped; live was counted down then
			}
			j = next
		case <-w.stop:
			w.mu.Lock()
			if i := slices.Index(w.idle, wk); i >= 0 {
				w.idle = slices.Delete(w.idle, i, i+1)
				w.live--
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
			// A submit took this worker off the stack: its job is on the
			// way and runs before the worker stops.
			next, ok := <-wk.ch
			if !ok {
				return
			}
			j = next
		}
	}
}

// reap makes the workers idle for idleFor exit; it stops when no
// worker is left (the next submit starts it again) or at close.
func (w *workerPool[J]) reap() {
	t := time.NewTicker(w.idleFor / 4)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			w.mu.Lock()
			w.reaping = false
			w.mu.Unlock()
			return
		case now := <-t.C:
			w.mu.Lock()
			n := 0
			for n < len(w.idle) && now.Sub(w.idle[n].idleSince) >= w.idleFor {
				close(w.idle[n].ch)
				n++
			}
			w.idle = slices.Delete(w.idle, 0, n)
			w.live -= n
			if w.live == 0 {
				w.reaping = false
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
		}
	}
}

// close makes idle workers exit; a worker running a request finishes it.
func (w *workerPool[J]) close() {
	w.stopOnce.Do(func() { close(w.stop) })
}
