package diameter

import (
	"context"
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

// workers runs application requests on long-lived goroutines. A goroutine
// started per request begins with a small stack and grows it (copying) on
// the way through decode, handler, Milenage and serialization, every time:
// a worker keeps its grown stack from one request to the next. A request
// that finds no idle worker starts a new one, so concurrency is never
// limited here (the per-connection semaphore limits it); workers idle for
// workerIdle exit.
type workers struct {
	ch       chan job
	stop     chan struct{}
	stopOnce sync.Once
}

func newWorkers() *workers {
	return &workers{ch: make(chan job), stop: make(chan struct{})}
}

// submit runs j on an idle worker, or on a new one.
func (w *workers) submit(j job) {
	select {
	case w.ch <- j:
	default:
		go w.loop(j)
	}
}

func (w *workers) loop(j job) {
	j.run()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		select {
		case j = <-w.ch:
			j.run()
			t.Reset(workerIdle)
		case <-t.C:
			return
		case <-w.stop:
			return
		}
	}
}

// close makes idle workers exit; a worker running a request finishes it.
func (w *workers) close() {
	w.stopOnce.Do(func() { close(w.stop) })
}
