package main

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/rcmhss/rcmhss/hss/redisstore"
)

// newPeerDirectory builds the Redis peer directory through which this node
// reaches MMEs and AAA servers connected to other nodes (diameter.forward_requests,
// docs/FAILOVER.md "HSS-initiated requests across nodes"). The node id is the
// Origin-Host, which several nodes may share, and a random suffix fresh at
// every start, so that a restarted node never gets its previous life's
// requests.
func newPeerDirectory(c Config, rs *redisstore.Store, log *slog.Logger) (*redisstore.PeerDirectory, error) {
	var suffix [8]byte
	_, _ = rand.Read(suffix[:]) // never fails (crypto/rand, Go 1.24)
	return rs.NewPeerDirectory(redisstore.PeerDirectoryConfig{
		NodeID: c.Diameter.OriginHost + "/" + hex.EncodeToString(suffix[:]),
		TTL:    c.Redis.PeerTTL,
	}, log)
}
