// Package hss is the pure domain of the rcmhss Home Subscriber Server: subscriber
// records, Milenage (TS 35.206), the key derivations of TS 33.401 Annex A and
// TS 33.402 Annex A (on the generic KDF of TS 33.220 Annex B), sequence-number
// management per TS 33.102 Annex C, authentication vectors for E-UTRAN, UTRAN and
// GERAN, and the Store interface that shared state lives behind.
//
// It imports no transport or storage library: the Diameter layer (package
// diameter) maps wire messages to the calls here, and the stores (hss/memstore,
// hss/redisstore) implement Store. Everything here can be read, tested and fuzzed
// with nothing running.
package hss
