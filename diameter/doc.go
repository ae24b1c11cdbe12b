// Package diameter is the Diameter base-protocol server of rcmhss and the
// contract of its application plugins (S6a, SWx, S13).
//
// The Server accepts peers over TCP and SCTP and implements the parts of
// RFC 6733 a server needs:
//
//   - framing: messages are delimited by the length of the 20-byte header
//     (section 3) and every AVP length is validated, recursively in Grouped
//     AVPs, before decoding, so malformed input is answered precisely
//     (5014 with Failed-AVP, 5015, 5011, section 7.1.5) or, when the stream
//     cannot be delimited any more, only that connection is closed;
//   - capabilities exchange (5.3): CEA advertising exactly the registered
//     applications, peers outside the allow-list refused with 3010, peers
//     with no common application with 5010, peers offering only in-band TLS
//     with 5017, nothing but CER accepted first (3010);
//   - watchdog (5.5, RFC 3539 3.4.1): DWR answered at once, DWR sent after Tw
//     of silence (with jitter), connection closed when the DWA does not come
//     within another Tw;
//   - disconnect (5.4): DPR answered then the connection closed once its
//     in-flight requests are answered; Shutdown sends DPR with REBOOTING;
//   - request routing (6.1): 3007 for an unknown application, 3001 for an
//     unknown command, 3003 for a Destination-Realm that is not ours, 3008
//     for a request with the E bit, 5005/5009 from the dictionary's command
//     rules, 3004 when a connection has too many requests in flight;
//   - answers (6.2): identifiers and P bit of the request, Session-Id first,
//     Origin-Host/Origin-Realm, Proxy-Info echoed (6.1.9), E bit on protocol
//     errors (7.1.3);
//   - duplicate detection (5.5.4, 6.1.3): answers are kept by Origin-Host and
//     End-to-End Identifier for DuplicateTTL; a request with the T bit whose
//     answer is known gets it again without running the handler, and one
//     that arrives while the original is still being handled waits for it.
//
// DIAMETER_INVALID_AVP_BITS (3009) is not sent: RFC 6733 4.1 tells the
// receiver to ignore reserved bits, and the M/V flag rules of go-diameter's
// dictionaries are not reliable enough to refuse a peer's AVPs on them.
//
// Requests the HSS originates (Send: CLR, IDR, DSR, PPR, RTR) go on the
// peer's connection when this node holds it; with a Forwarder they reach a
// peer connected to another rcmhss node through that node, which sends them
// as its own requests (fresh Hop-by-Hop identifier, everything else kept),
// retried with the T flag until the deadline when the owner dies or the peer
// moves (forward.go, docs/FAILOVER.md).
//
// Requests of one connection are handled concurrently, each in its own
// goroutine, with writes serialized; base-protocol messages are answered on
// the reading goroutine so that a slow handler never delays a DWA.
//
// result.go holds the one table (ResultFor) mapping domain errors to
// Result-Code and Experimental-Result values (RFC 6733 7.1, TS 29.272 7.4,
// TS 29.273 10.3). telemetry.go emits one span per request named "<App>/<CMD>"
// and the diameter_* metrics.
package diameter
