// Package loadgen is the engine of diamload, a Diameter load generator for
// S6a (TS 29.272), SWx (TS 29.273) and S13 (TS 29.272 6.x), and of its
// baseline responder.
//
// The hot path never touches go-diameter's reflection or dictionary: request
// templates are encoded once (RFC 6733 3 header, 4.1 AVP layout) and only the
// Hop-by-Hop and End-to-End identifiers (RFC 6733 3), the Session-Id
// (RFC 6733 8.8), the User-Name and the IMEI are patched in place; answers
// are delimited by the Message Length of their header and read by walking AVP
// headers for Result-Code (RFC 6733 7.1) and Experimental-Result (7.6).
//
// Open-loop runs schedule every request at an intended time and measure
// latency from that time, so that a slow server cannot hide its queueing by
// slowing the generator down (coordinated omission). Closed-loop runs keep a
// fixed window of requests in flight per connection. Latencies go into a
// log-linear histogram whose relative error is bounded by 1/128.
//
// The package also holds the baseline responder (Baseline: CER/CEA, DWR/DWA,
// DPR/DPA of RFC 6733 5.3-5.5 and fixed application answers on the same
// framing; NewStackBaseline: the same answers on rcmhss's own server), the
// bulk provisioning of an IMSI range through the admin API's NDJSON import
// (Provision), and the command line of cmd/diamload (Main). docs/diamload.md
// is the user's guide.
package loadgen
