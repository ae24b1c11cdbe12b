// Package diametertest is a real Diameter peer for tests: it dials a server
// over TCP or SCTP, runs the capabilities exchange (RFC 6733 5.3), answers
// watchdogs (5.5), answers requests the server originates (CLR, IDR, ...)
// through test-registered handlers, and sends requests of its own, matching
// answers by Hop-by-Hop Identifier. Raw gives the socket for malformed-frame
// tests.
package diametertest
