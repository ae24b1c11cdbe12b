package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// PeerDirectory lets several rcmhss nodes on one Redis reach each other's
// Diameter peers. It has the methods of diameter.PeerDirectory and
// diameter.Forwarder:
//
//   - the directory: <prefix>peer:{<origin-host>} holds the id of the node
//     that holds the peer's connection, with a TTL (PX) that the owner
//     refreshes every TTL/3. A node that dies stops refreshing, so its peers
//     vanish from the directory within TTL; a peer that reconnects to another
//     node overwrites its entry there; the heartbeat of a node whose stale
//     connection lingers never takes an entry back from the new owner.
//   - the transport: every node subscribes to <prefix>node:{<node-id>}; a
//     request is PUBLISHed on its owner's channel with the originator's id,
//     and the answer is PUBLISHed back on the originator's channel.
//
// Pub/sub rather than lists (LPUSH/BLPOP) or streams: a request is only worth
// delivering while its originator still waits for it. Pub/sub keeps nothing,
// so a dead node's requests are not left behind to be sent long after the
// operator's change by a node restarting with the same queue, and PUBLISH
// returns the number of receivers, so a request to a node that has gone is
// known undelivered at once instead of at the end of an attempt timeout. What
// is lost in flight (a Sentinel failover, a reconnection) is recovered by the
// originator's retry (diameter.Server.Send). Node ids are fresh at each
// process start, so a restarted node never receives the requests or answers
// of its previous life.
//
// Single Redis and Sentinel: everything above holds (go-redis subscribes
// again after a failover). Cluster: keys and channels are hash-tagged
// ({host}, {node}) so each lives in one slot, and go-redis subscribes on the
// master of the channel's slot and publishes there too, so PUBLISH's receiver
// count is still exact; after a resharding moved a channel's slot it may
// count 0 while the subscriber still listens on the old master (classic
// pub/sub is broadcast to the whole cluster), so in Cluster mode a count of 0
// is not taken as "owner gone" and the attempt waits for its timeout instead.
type PeerDirectory struct {
	rdb     redis.UniversalClient
	log     *slog.Logger
	prefix  string
	node    string
	ttl     time.Duration
	cluster bool

	mu    sync.Mutex
	held  map[string]bool // lower-case host -> this node holds its connection
	dirty map[string]bool // hosts whose state Redis has not been told yet
	wake  chan struct{}
	// failing is set while Redis refuses the directory writes, so that a
	// Redis outage is logged once, not every heartbeat.
	failing atomic.Bool

	seq     atomic.Uint64
	pendMu  sync.Mutex
	pending map[uint64]chan forwardEnvelope

	deliver  DeliverFunc
	pubsub   *redis.PubSub
	sem      chan struct{}
	stop     context.CancelFunc
	wg       sync.WaitGroup
	closed   sync.Once
	closeErr error
}

// DeliverFunc sends a serialized request to the local peer host and returns
// its serialized answer (diameter.Server.ServeForwarded).
type DeliverFunc func(ctx context.Context, host string, req []byte) ([]byte, error)

// PeerDirectoryConfig tunes NewPeerDirectory.
type PeerDirectoryConfig struct {
	// NodeID names this process; it must be unique among the nodes and
	// fresh at every start (for example the Origin-Host and a random
	// suffix). Braces are refused: they would change the Cluster hash tag.
	NodeID string
	// TTL is how long a peer stays in the directory after its node stopped
	// refreshing it (default 5s, at least 300ms); the heartbeat runs every
	// TTL/3.
	TTL time.Duration
}

// Errors of the peer directory.
var (
	// ErrNoPeerOwner: no node holds a connection to the peer.
	ErrNoPeerOwner = errors.New("redisstore: peer directory: no node holds the peer")
	// ErrOwnerGone: the owner in the directory no longer listens (it died
	// and its entry has not expired yet).
	ErrOwnerGone = errors.New("redisstore: peer directory: owner node gone")
	// ErrForwardFailed: the owner could not deliver the request; the error
	// text is the owner's.
	ErrForwardFailed = errors.New("redisstore: peer directory: owner could not deliver")
	// ErrInvalidPeerDirectory: a bad PeerDirectoryConfig.
	ErrInvalidPeerDirectory = errors.New("redisstore: peer directory: invalid config")
)

const (
	defaultPeerTTL = 5 * time.Second
	minPeerTTL     = 300 * time.Millisecond
	// maxForwardedInFlight bounds the forwarded requests a node delivers at
	// once; beyond it they are refused and the originator retries.
	maxForwardedInFlight = 1024
	// maxForwardedWait bounds the wait for a local delivery whatever
	// deadline the originator sent.
	maxForwardedWait = time.Minute
)

// claimPeer refreshes an entry that is ours or free: the heartbeat must
// never take a peer back from the node it reconnected to.
var claimPeer = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// releasePeer deletes an entry only when it is ours.
var releasePeer = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// NewPeerDirectory returns a directory on the store's Redis connections. It
// records PeerUp/PeerDown at once but reaches Redis only after Start.
func (s *Store) NewPeerDirectory(cfg PeerDirectoryConfig, log *slog.Logger) (*PeerDirectory, error) {
	var errs []error
	if cfg.NodeID == "" {
		errs = append(errs, fmt.Errorf("%w: empty node id", ErrInvalidPeerDirectory))
	}
	if strings.ContainsAny(cfg.NodeID, "{}") {
		errs = append(errs, fmt.Errorf("%w: node id must not contain '{' or '}'", ErrInvalidPeerDirectory))
	}
	if cfg.TTL == 0 {
		cfg.TTL = defaultPeerTTL
	}
	if cfg.TTL < minPeerTTL {
		errs = append(errs, fmt.Errorf("%w: ttl %v below %v", ErrInvalidPeerDirectory, cfg.TTL, minPeerTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &PeerDirectory{
		rdb: s.rdb, log: log, prefix: s.prefix, node: cfg.NodeID, ttl: cfg.TTL, cluster: s.cluster,
		held: make(map[string]bool), dirty: make(map[string]bool), wake: make(chan struct{}, 1),
		pending: make(map[uint64]chan forwardEnvelope), sem: make(chan struct{}, maxForwardedInFlight),
	}, nil
}

// NodeID is this node's id in the directory.
func (d *PeerDirectory) NodeID() string { return d.node }

func (d *PeerDirectory) peerKey(host string) string {
	return d.prefix + "peer:{" + strings.ToLower(host) + "}"
}

func (d *PeerDirectory) channel(node string) string { return d.prefix + "node:{" + node + "}" }

// Start subscribes to this node's channel, then serves forwarded requests
// with deliver and keeps the directory up to date until Close.
func (d *PeerDirectory) Start(ctx context.Context, deliver DeliverFunc) error {
	d.deliver = deliver
	ps := d.rdb.Subscribe(ctx, d.channel(d.node))
	// The subscription is confirmed before any request can be sent to us.
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return fmt.Errorf("redisstore: peer directory: subscribe: %w", err)
	}
	d.pubsub = ps
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stop = stop
	d.wg.Add(2)
	go d.receive(bg, ps.Channel())
	go d.maintain(bg)
	d.log.Info("redisstore: peer directory started", "node", d.node, "ttl", d.ttl)
	return nil
}

// Close stops serving and removes this node's entries, so that other nodes
// need not wait for their TTL. Requests being delivered are abandoned (their
// originators retry). Only the first call does anything.
func (d *PeerDirectory) Close() error {
	d.closed.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *PeerDirectory) close() error {
	if d.stop == nil {
		return nil
	}
	d.stop()
	err := d.pubsub.Close()
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// PeerDowns not yet written are released like the rest.
	d.flush(ctx)
	d.mu.Lock()
	hosts := make([]string, 0, len(d.held))
	for h, held := range d.held {
		if held {
			hosts = append(hosts, h)
		}
	}
	d.mu.Unlock()
	for _, h := range hosts {
		if e := releasePeer.Run(ctx, d.rdb, []string{d.peerKey(h)}, d.node).Err(); e != nil {
			err = errors.Join(err, fmt.Errorf("redisstore: peer directory: release %s: %w", h, e))
			break
		}
	}
	return err
}

// PeerUp records that this node holds host's connection; Redis learns it in
// the background (it overwrites another node's entry: the newest connection
// is the live one).
func (d *PeerDirectory) PeerUp(host string) { d.mark(host, true) }

// PeerDown records that host's connection here closed.
func (d *PeerDirectory) PeerDown(host string) { d.mark(host, false) }

func (d *PeerDirectory) mark(host string, held bool) {
	h := strings.ToLower(host)
	d.mu.Lock()
	if held {
		d.held[h] = true
	} else {
		delete(d.held, h)
	}
	d.dirty[h] = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// maintain writes changes as they come and refreshes held entries every
// TTL/3.
func (d *PeerDirectory) maintain(ctx context.Context) {
	defer d.wg.Done()
	tick := time.NewTicker(d.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
			d.flush(ctx)
		case <-tick.C:
			d.flush(ctx)
			d.heartbeat(ctx)
		}
	}
}

func (d *PeerDirectory) flush(ctx context.Context) {
	d.mu.Lock()
	changes := make(map[string]bool, len(d.dirty))
	for h := range d.dirty {
		changes[h] = d.held[h]
	}
	clear(d.dirty)
	d.mu.Unlock()
	if len(changes) == 0 {
		return
	}
	var failed []string
	for h, held := range changes {
		var err error
		if held {
			err = d.rdb.Set(ctx, d.peerKey(h), d.node, d.ttl).Err()
		} else {
			err = releasePeer.Run(ctx, d.rdb, []string{d.peerKey(h)}, d.node).Err()
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			failed = append(failed, h)
			d.failed(err)
		}
	}
	if len(failed) > 0 {
		// Tried again at the next heartbeat.
		d.mu.Lock()
		for _, h := range failed {
			d.dirty[h] = true
		}
		d.mu.Unlock()
		return
	}
	d.recovered()
}

func (d *PeerDirectory) heartbeat(ctx context.Context) {
	d.mu.Lock()
	hosts := make([]string, 0, len(d.held))
	for h := range d.held {
		hosts = append(hosts, h)
	}
	d.mu.Unlock()
	if len(hosts) == 0 {
		return
	}
	ttl := d.ttl.Milliseconds()
	// One round trip for every peer (a node may hold hundreds); EVAL, not
	// EVALSHA: a pipeline cannot fall back when a restarted or promoted
	// Redis has not seen the script, and it is a few lines long.
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, h := range hosts {
			claimPeer.Eval(ctx, p, []string{d.peerKey(h)}, d.node, ttl)
		}
		return nil
	})
	if err != nil {
		d.failed(err)
		return
	}
	d.recovered()
}

func (d *PeerDirectory) failed(err error) {
	if d.failing.CompareAndSwap(false, true) {
		d.log.Warn("redisstore: peer directory: cannot update Redis; other nodes may not reach this node's peers", "node", d.node, "err", err)
	}
}

func (d *PeerDirectory) recovered() {
	if d.failing.CompareAndSwap(true, false) {
		d.log.Info("redisstore: peer directory: Redis updated again", "node", d.node)
	}
}

// Owner returns the id of the node holding host's connection.
func (d *PeerDirectory) Owner(ctx context.Context, host string) (string, error) {
	node, err := d.rdb.Get(ctx, d.peerKey(host)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", fmt.Errorf("%w: %s", ErrNoPeerOwner, host)
	case err != nil:
		return "", fmt.Errorf("redisstore: peer directory: owner of %s: %w", host, err)
	}
	return node, nil
}

// forwardEnvelope is one message on a node channel: a request ("q") for a
// peer the receiver holds, or the answer ("a") to a request the receiver
// forwarded. JSON: a few hundred bytes per request, readable with
// redis-cli SUBSCRIBE when debugging, and extended without breaking nodes of
// the previous version during a rolling upgrade.
type forwardEnvelope struct {
	Kind string `json:"k"`
	ID   uint64 `json:"id"`
	From string `json:"from,omitempty"`
	Host string `json:"host,omitempty"`
	// WaitMS is how long the originator waits for this attempt, in ms: a
	// duration, not a deadline, so that the nodes' clocks need not agree.
	WaitMS int64  `json:"wait,omitempty"`
	Msg    []byte `json:"msg,omitempty"`
	Err    string `json:"err,omitempty"`
}

// Forward sends req to the node holding host's connection and waits for the
// peer's answer until ctx ends (one attempt; diameter.Server.Send retries).
func (d *PeerDirectory) Forward(ctx context.Context, host string, req []byte) ([]byte, error) {
	owner, err := d.Owner(ctx, host)
	if err != nil {
		return nil, err
	}
	if d.deliver == nil {
		return nil, fmt.Errorf("redisstore: peer directory: forward to %s: not started", owner)
	}
	if owner == d.node {
		// Our own entry, the connection just closed or not yet in the
		// local table: no round trip through Redis.
		return d.deliver(ctx, host, req)
	}
	id := d.seq.Add(1)
	ch := make(chan forwardEnvelope, 1)
	d.pendMu.Lock()
	d.pending[id] = ch
	d.pendMu.Unlock()
	defer func() {
		d.pendMu.Lock()
		delete(d.pending, id)
		d.pendMu.Unlock()
	}()
	env := forwardEnvelope{Kind: "q", ID: id, From: d.node, Host: host, Msg: req}
	if dl, ok := ctx.Deadline(); ok {
		env.WaitMS = max(time.Until(dl).Milliseconds(), 1)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("redisstore: peer directory: forward to %s: %w", owner, err)
	}
	n, err := d.rdb.Publish(ctx, d.channel(owner), b).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: peer directory: forward to %s: %w", owner, err)
	}
	if n == 0 && !d.cluster {
		return nil, fmt.Errorf("%w: %s (holding %s)", ErrOwnerGone, owner, host)
	}
	select {
	case ans := <-ch:
		if ans.Err != "" {
			return nil, fmt.Errorf("%w: %s: %s", ErrForwardFailed, owner, ans.Err)
		}
		return ans.Msg, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("redisstore: peer directory: forward to %s: %w", owner, ctx.Err())
	}
}

func (d *PeerDirectory) receive(ctx context.Context, msgs <-chan *redis.Message) {
	defer d.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			var env forwardEnvelope
			if err := json.Unmarshal([]byte(m.Payload), &env); err != nil {
				d.log.Warn("redisstore: peer directory: undecodable message on the node channel", "node", d.node, "err", err)
				continue
			}
			switch env.Kind {
			case "a":
				d.pendMu.Lock()
				ch := d.pending[env.ID]
				d.pendMu.Unlock()
				if ch != nil {
					select {
					case ch <- env:
					default:
					}
				}
			case "q":
				select {
				case d.sem <- struct{}{}:
					d.wg.Add(1)
					go d.serve(ctx, env)
				default:
					go d.answer(ctx, env, nil, errors.New("too many forwarded requests in flight"))
				}
			}
		}
	}
}

func (d *PeerDirectory) serve(ctx context.Context, env forwardEnvelope) {
	defer d.wg.Done()
	defer func() { <-d.sem }()
	wait := maxForwardedWait
	if env.WaitMS > 0 {
		wait = min(wait, time.Duration(env.WaitMS)*time.Millisecond)
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ans, err := d.deliver(dctx, env.Host, env.Msg)
	d.answer(ctx, env, ans, err)
}

func (d *PeerDirectory) answer(ctx context.Context, req forwardEnvelope, msg []byte, err error) {
	env := forwardEnvelope{Kind: "a", ID: req.ID, Msg: msg}
	if err != nil {
		env.Err, env.Msg = err.Error(), nil
	}
	b, merr := json.Marshal(env)
	if merr != nil {
		d.log.Error("redisstore: peer directory: encode answer", "err", merr)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if perr := d.rdb.Publish(pctx, d.channel(req.From), b).Err(); perr != nil {
		// The originator's attempt times out and it retries.
		d.log.Warn("redisstore: peer directory: answer not sent", "to", req.From, "peer", req.Host, "err", perr)
	}
}
