package diameter

import (
	"context"
	"slices"
	"strings"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
)

// PeerObserver is implemented by an Application that acts when a peer
// advertising it completes the capabilities exchange: the S6a application
// sends a Reset-Request to each MME that connects after an HSS restart in
// which registrations were lost (TS 29.272 5.2.1.3).
//
// PeerOpened runs on the connection's reader, right after the CEA went out:
// it must not block (a request sent to the peer from it would wait for an
// answer that only that reader can deliver); start a goroutine instead.
type PeerObserver interface {
	PeerOpened(ctx context.Context, peer PeerInfo)
}

// PeersFor lists the open peers that advertised application appID in their
// CER, as Auth-Application-Id or Acct-Application-Id, directly or inside a
// Vendor-Specific-Application-Id (RFC 6733 5.3.1). A relay (RFC 6733 2.4)
// that advertised only the Relay application is left out: it is not the
// MME or AAA server that a request addressed to its own Origin-Host would
// be meant for.
func (s *Server) PeersFor(appID uint32) []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PeerInfo
	for _, c := range s.peers {
		if slices.Contains(c.apps, appID) {
			out = append(out, c.info())
		}
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return strings.Compare(a.OriginHost, b.OriginHost) })
	return out
}

// advertisedApps lists the Application-Ids of a CER (RFC 6733 5.3.1), in
// order and once each.
func advertisedApps(m *diam.Message) []uint32 {
	var ids []uint32
	add := func(a *diam.AVP) {
		if a.VendorID != 0 || (a.Code != avp.AuthApplicationID && a.Code != avp.AcctApplicationID) {
			return
		}
		if v, ok := a.Data.(datatype.Unsigned32); ok && !slices.Contains(ids, uint32(v)) {
			ids = append(ids, uint32(v))
		}
	}
	for _, a := range m.AVP {
		if a.Code == avp.VendorSpecificApplicationID && a.VendorID == 0 {
			if g, ok := a.Data.(*diam.GroupedAVP); ok {
				for _, in := range g.AVP {
					add(in)
				}
			}
			continue
		}
		add(a)
	}
	return ids
}

// peerOpened tells the registered applications that c's peer advertised
// and that implement PeerObserver that it is open.
func (s *Server) peerOpened(c *conn) {
	info := c.info()
	for _, id := range c.apps {
		e, ok := s.apps[id] // apps is fixed after Start
		if !ok {
			continue
		}
		if o, ok := e.app.(PeerObserver); ok {
			o.PeerOpened(context.Background(), info)
		}
	}
}
