package hss

import "context"

// A request key names one request of one client, the same in every copy of
// it: for Diameter, the Origin-Host and End-to-End Identifier that RFC 6733
// 6.2 and 5.5.4 use to detect duplicates. The Diameter server puts it in the
// context of each request it hands to the service; a store shared by several
// nodes (hss/redisstore) records it with the state change the request makes,
// in the same atomic step, so that another copy of the same request (a
// retransmission that a relay sent to another node, or the original that a
// node frozen by SIGSTOP runs late) finds the change already made and
// changes nothing again. Stores that serve one node ignore it: the server's
// own duplicate detection covers them.

type requestKeyCtx struct{}

// WithRequestKey returns ctx carrying key as the request key.
func WithRequestKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, requestKeyCtx{}, key)
}

// RequestKey returns the request key of ctx, "" when there is none.
func RequestKey(ctx context.Context) string {
	k, _ := ctx.Value(requestKeyCtx{}).(string)
	return k
}
