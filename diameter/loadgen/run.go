package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// runner is the state shared by the connections of one run.
type runner struct {
	cfg     Config
	log     *slog.Logger
	start   time.Time
	boot    uint32
	seed    uint64
	pattern []Scenario
	resync  []byte
	sched   schedule
	// total is the number of scenarios to issue (open loop: from the
	// schedule; closed loop: Requests, or unbounded with a Duration).
	total    uint64
	issued   atomic.Uint64
	airs     atomic.Uint64 // AIRs issued, for the resync share
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

func (r *runner) now() int64 { return int64(time.Since(r.start)) }

func (r *runner) addInFlight(d int64) {
	n := r.inFlight.Add(d)
	for {
		m := r.maxIn.Load()
		if n <= m || r.maxIn.CompareAndSwap(m, n) {
			return
		}
	}
}

// take claims the next scenario of the run, false when the run has issued
// all it should.
func (r *runner) take() (uint64, bool) {
	k := r.issued.Add(1) - 1
	if r.total > 0 && k >= r.total {
		r.issued.Add(^uint64(0))
		return 0, false
	}
	return k, true
}

// Run performs one load run and reports what happened. It returns when the
// run is over: the schedule or the request budget is exhausted, or the
// duration has passed (closed loop), or ctx is cancelled; requests in flight
// are then given up to the timeout to complete (1s after cancellation). The
// report is valid even when an error is returned after the start.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Report, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, log: log, pattern: cfg.Mix.pattern(), boot: uint32(time.Now().Unix()),
		seed: mrand.Uint64()}
	r.resync = resyncInfo(cfg.ResyncKeys)
	if cfg.OpenLoop() {
		r.sched = newSchedule(cfg.Rate, cfg.Ramp)
		if cfg.Duration > 0 {
			r.total = r.sched.count(cfg.Duration)
		}
		if cfg.Requests > 0 && (r.total == 0 || cfg.Requests < r.total) {
			r.total = cfg.Requests
		}
	} else {
		r.total = cfg.Requests
	}

	clients := make([]*client, 0, cfg.Conns)
	defer func() {
		for _, c := range clients {
			c.nc.Close()
		}
	}()
	for i := range cfg.Conns {
		c, err := newClient(ctx, r, i)
		if err != nil {
			return nil, fmt.Errorf("loadgen: connection %d: %w", i, err)
		}
		clients = append(clients, c)
	}

	r.start = time.Now()
	rep := newReport(cfg, r.start)
	var readers, senders sync.WaitGroup
	errs := make(chan error, 2*len(clients))
	for _, c := range clients {
		readers.Go(func() {
			if err := c.readLoop(log); err != nil {
				errs <- err
			}
		})
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if !cfg.OpenLoop() && cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(runCtx, cfg.Duration)
		defer cancel()
	}
	for _, c := range clients {
		senders.Go(func() {
			var err error
			if cfg.OpenLoop() {
				err = c.openLoop(runCtx)
			} else {
				err = c.closedLoop(runCtx)
			}
			if err == nil {
				err = c.drain(ctx, time.Second)
			}
			if err != nil {
				errs <- err
				stop()
			}
		})
	}
	// The ticker drives timeouts and progress until the senders are done.
	sendersDone := make(chan struct{})
	go func() { senders.Wait(); close(sendersDone) }()
	sweepEvery := min(cfg.Timeout/4, 100*time.Millisecond)
	sweep := time.NewTicker(max(sweepEvery, time.Millisecond))
	defer sweep.Stop()
	progress := time.NewTicker(cfg.ProgressInterval)
	defer progress.Stop()
	lastTick := time.Duration(0)
loop:
	for {
		select {
		case <-sendersDone:
			break loop
		case <-sweep.C:
			now := r.now()
			for _, c := range clients {
				c.sweep(now)
			}
		case <-progress.C:
			t := time.Since(r.start)
			rep.tick(clients, t, t-lastTick, r.inFlight.Load())
			lastTick = t
			if cfg.Progress != nil {
				rep.writeProgress(cfg.Progress, cfg.TerminalProgress)
			}
		}
	}
	elapsed := time.Since(r.start)
	if elapsed-lastTick > cfg.ProgressInterval/10 || len(rep.Timeline) == 0 {
		rep.tick(clients, elapsed, elapsed-lastTick, r.inFlight.Load())
		if cfg.Progress != nil {
			rep.writeProgress(cfg.Progress, cfg.TerminalProgress)
		}
	}
	if cfg.Progress != nil && cfg.TerminalProgress {
		fmt.Fprintln(cfg.Progress)
	}
	var bye sync.WaitGroup
	for _, c := range clients {
		bye.Go(func() { c.disconnect(time.Second) })
	}
	bye.Wait()
	for _, c := range clients {
		c.nc.Close()
	}
	readers.Wait()
	close(errs)
	var runErr []error
	for err := range errs {
		if !errors.Is(err, errClosedByUs) {
			runErr = append(runErr, err)
		}
	}
	rep.finish(clients, elapsed, r)
	if len(runErr) > 0 && ctx.Err() == nil {
		return rep, errors.Join(runErr...)
	}
	return rep, nil
}

var errClosedByUs = errors.New("loadgen: connection closed at the end of the run")

// closedLoop keeps every slot of the window busy until the run ends.
func (c *client) closedLoop(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		idx, ok, err := c.acquire(ctx)
		if err != nil || !ok {
			return err
		}
		seq, ok := c.run.take()
		if !ok {
			c.free <- idx
			return nil
		}
		c.wmu.Lock()
		err = c.issue(idx, seq, c.run.now())
		c.wmu.Unlock()
		if err != nil {
			return err
		}
	}
}

// precisePause is the wait under which the open loop waits on its pacer
// instead of a Go timer, which wakes up to ~1 ms late on Linux; longer waits
// take the timer to within precisePause/2 of the due time, then the pacer.
const precisePause = 2 * time.Millisecond

// earlySend is how early the open loop sends a request rather than wait for
// it: waiting less than a timer's wake-up slack (~50 us) would only add a
// syscall and a wake-up per request at high rates.
const earlySend = 50 * time.Microsecond

// openLoop sends the connection's share of the schedule (every Conns-th
// request) at its intended times, writing every request that is due in one
// batch and sleeping until the next one is.
func (c *client) openLoop(ctx context.Context) error {
	r := c.run
	n := uint64(r.cfg.Conns)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	pace, err := newPacer()
	if err != nil {
		return err
	}
	defer pace.close()
	for k := uint64(c.id); r.total == 0 || k < r.total; k += n {
		due := int64(r.sched.at(k))
		for {
			if ctx.Err() != nil {
				return nil
			}
			wait := due - r.now()
			if wait <= int64(earlySend) {
				break
			}
			if err := c.flush(); err != nil {
				return err
			}
			if wait < int64(precisePause) {
				// Too short for a Go timer to wake on time (pause_linux.go);
				// follow-ups wait for the next turn of the loop.
				if err := pace.wait(time.Duration(wait)); err != nil {
					return err
				}
				continue
			}
			timer.Reset(time.Duration(wait) - precisePause/2)
			select {
			case <-timer.C:
			case f := <-c.follow:
				// Go 1.23 timers: after Stop no stale tick is delivered, so
				// there is nothing to drain.
				timer.Stop()
				if err := c.locked(func() error { return c.sendFollowUp(f) }); err != nil {
					return err
				}
			case <-ctx.Done():
				return nil
			}
		}
		idx, ok, err := c.acquire(ctx)
		if err != nil || !ok {
			return err
		}
		r.issued.Add(1)
		// A request sent early (within earlySend) counts from when it left.
		start := min(due, r.now())
		c.wmu.Lock()
		err = c.issue(idx, k, start)
		c.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}
