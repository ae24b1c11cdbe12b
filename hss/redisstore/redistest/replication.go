package redistest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// pollInterval is how often the replication waits look again.
const pollInterval = 20 * time.Millisecond

// WaitReplicated polls until the replica at replica has its link to the
// primary up and has applied everything the primary at primary wrote so far
// (equal master_repl_offset), or ctx ends.
func WaitReplicated(ctx context.Context, primary, replica string) error {
	p := redis.NewClient(&redis.Options{Addr: primary})
	defer p.Close()
	r := redis.NewClient(&redis.Options{Addr: replica})
	defer r.Close()
	var po, ro string
	for {
		pi := replicationInfo(ctx, p)
		ri := replicationInfo(ctx, r)
		po, ro = pi["master_repl_offset"], ri["master_repl_offset"]
		if po != "" && po == ro && ri["master_link_status"] == "up" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: replica %s not in sync with %s (offsets %q, %q): %w", replica, primary, po, ro, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// WaitMaster polls the Sentinel at sentinel until it names want as the
// master of name (a failover has promoted it), or ctx ends.
func WaitMaster(ctx context.Context, sentinel, name, want string) error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel})
	defer sc.Close()
	for {
		addr, err := sc.GetMasterAddrByName(ctx, name).Result()
		if err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: Sentinel %s did not name %s master of %q (last: %v %v): %w", sentinel, want, name, addr, err, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// replicationInfo is the INFO replication section as fields (empty when the
// server does not answer).
func replicationInfo(ctx context.Context, c *redis.Client) map[string]string {
	info, err := c.Info(ctx, "replication").Result()
	out := map[string]string{}
	if err != nil {
		return out
	}
	for line := range strings.SplitSeq(strings.ReplaceAll(info, "\r", ""), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}
