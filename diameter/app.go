package diameter

import (
	"context"
	"net"

	"github.com/fiorix/go-diameter/v4/diam"
)

// Application is a Diameter application plugin (S6a, SWx, S13, ...). The server
// hosts it: it advertises AppID/VendorID in the CEA, routes the application's
// requests to its handlers, and wraps each in the server's middleware (telemetry,
// duplicate detection, panic recovery). Adding an application is one directory
// implementing this interface and one line registering it.
type Application interface {
	// Name is the short name used in span and metric names ("S6a").
	Name() string
	// AppID is the Auth-Application-Id (16777251 for S6a).
	AppID() uint32
	// VendorID is the Vendor-Id of the Vendor-Specific-Application-Id (10415 for
	// 3GPP applications, 0 for none).
	VendorID() uint32
	// Commands maps each request command code the application serves to its
	// handler. Requests for other codes of this application get 3001.
	Commands() map[uint32]Handler
}

// Handler answers one request. It always returns an answer (never nil): a
// failing handler answers with the code the spec prescribes, chosen through
// ResultFor.
type Handler interface {
	ServeDiameter(ctx context.Context, req *Request) *diam.Message
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) *diam.Message

// ServeDiameter calls f.
func (f HandlerFunc) ServeDiameter(ctx context.Context, req *Request) *diam.Message {
	return f(ctx, req)
}

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Request is one received request with what the server knows of its peer.
type Request struct {
	Msg  *diam.Message
	Peer PeerInfo
}

// PeerInfo identifies the peer connection a request came on, as learnt at CER.
type PeerInfo struct {
	OriginHost  string
	OriginRealm string
	RemoteAddr  net.Addr
}

// Sender originates requests to a connected peer (CLR, IDR, DSR, PPR, RTR) and
// waits for the answer. It is implemented by *Server: the request goes on the
// connection of the peer whose Origin-Host is host, with fresh Hop-by-Hop and
// End-to-End identifiers, and the answer matched by Hop-by-Hop id is returned.
type Sender interface {
	Send(ctx context.Context, host string, req *diam.Message) (*diam.Message, error)
}

// AVPKey names an AVP by code and Vendor-Id.
type AVPKey struct {
	Code     uint32
	VendorID uint32
}

// OptionalAVPs is implemented by an application whose specification makes
// optional an AVP that go-diameter's dictionary marks required in a request
// (for example User-Name in the S13 ECR, TS 29.272 7.2.19). The server then
// does not answer 5005 for its absence; the handler decides.
type OptionalAVPs interface {
	OptionalAVPs() map[uint32][]AVPKey
}
