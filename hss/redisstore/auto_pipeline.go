package redisstore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// maxPipelines bounds the pipelines an autoPipeline keeps in flight. While
// they are all out, new calls queue and leave together as the next
// pipeline, so under load one round trip carries many reservations; with
// more permits each call would find one free and leave alone.
const maxPipelines = 2

// autoPipeline is a redis.Scripter whose EvalSha calls (and the commands
// given to do, such as the duplicate cache's SET) share round trips:
// a call made while maxPipelines pipelines are in flight is queued, and the
// queue is sent as one pipeline as soon as a pipeline returns. A lone call
// leaves at once (no waiting for company), so it costs one round trip as
// before. Each EVALSHA in a pipeline is still one atomic script run on the
// server (Redis runs scripts one at a time); a pipeline only saves the
// network round trips and syscalls between them, on both sides. The other
// Scripter methods go straight to the client.
type autoPipeline struct {
	rdb redis.UniversalClient

	mu      sync.Mutex
	queue   []*pipelinedCall
	running int

	shared atomic.Uint64 // calls that went out in a pipeline of two or more
}

type pipelinedCall struct {
	ctx  context.Context
	cmd  redis.Cmder
	done chan struct{} // one value when cmd has its reply
}

// calls recycles pipelinedCalls (and their channels): a reservation then
// costs no allocation beyond the command itself.
var calls = sync.Pool{New: func() any { return &pipelinedCall{done: make(chan struct{}, 1)} }}

var _ redis.Scripter = (*autoPipeline)(nil)

func newAutoPipeline(rdb redis.UniversalClient) *autoPipeline {
	return &autoPipeline{rdb: rdb}
}

// EvalSha queues the script call and waits for its reply. If ctx ends first
// the call returns ctx's error; the script may still run (as with any
// request already written to the server).
func (p *autoPipeline) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, "evalsha", sha1, len(keys))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	if len(keys) > 0 {
		// Cluster routing: the first key is argument 3.
		cmd.SetFirstKeyPos(3)
	}
	if p.do(ctx, cmd) != nil {
		// cmd still belongs to the pipeline that will fill it in.
		gone := redis.NewCmd(ctx, cmdArgs...)
		gone.SetErr(ctx.Err())
		return gone
	}
	return cmd
}

// do queues cmd for the next pipeline and waits for its reply (see
// EvalSha); it returns ctx's error when ctx ends first, and then cmd must
// not be read: the pipeline still owns it.
func (p *autoPipeline) do(ctx context.Context, cmd redis.Cmder) error {
	c := calls.Get().(*pipelinedCall)
	c.ctx, c.cmd = ctx, cmd
	p.mu.Lock()
	p.queue = append(p.queue, c)
	start := p.running < maxPipelines
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.drain()
	}
	select {
	case <-c.done:
		c.ctx, c.cmd = nil, nil
		calls.Put(c)
		return nil
	case <-ctx.Done():
		// c still belongs to the pipeline: it is not recycled.
		return ctx.Err()
	}
}

// drain sends the queue as pipelines until it is empty.
func (p *autoPipeline) drain() {
	var spare []*pipelinedCall
	for {
		p.mu.Lock()
		batch := p.queue
		p.queue = spare[:0]
		if len(batch) == 0 {
			p.running--
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.exec(batch)
		if len(batch) > 1 {
			p.shared.Add(uint64(len(batch)))
		}
		for i, c := range batch {
			c.done <- struct{}{}
			batch[i] = nil
		}
		spare = batch
	}
}

func (p *autoPipeline) exec(batch []*pipelinedCall) {
	if len(batch) == 1 {
		_ = p.rdb.Process(batch[0].ctx, batch[0].cmd)
		return
	}
	// The pipeline outlives any single caller: a caller whose context ends
	// stops waiting, the others still get their replies. The client's read
	// and write timeouts bound the round trip.
	pipe := p.rdb.Pipeline()
	for _, c := range batch {
		_ = pipe.Process(context.WithoutCancel(c.ctx), c.cmd)
	}
	_, _ = pipe.Exec(context.Background())
}

// Eval implements redis.Scripter.
func (p *autoPipeline) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.rdb.Eval(ctx, script, keys, args...)
}

// EvalRO implements redis.Scripter.
func (p *autoPipeline) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.rdb.EvalRO(ctx, script, keys, args...)
}

// EvalShaRO implements redis.Scripter.
func (p *autoPipeline) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.rdb.EvalShaRO(ctx, sha1, keys, args...)
}

// ScriptExists implements redis.Scripter.
func (p *autoPipeline) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	return p.rdb.ScriptExists(ctx, hashes...)
}

// ScriptLoad implements redis.Scripter.
func (p *autoPipeline) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	return p.rdb.ScriptLoad(ctx, script)
}
