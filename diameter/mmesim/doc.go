// Package mmesim is the MME in front of a simulated RCM device (issue 6,
// cmd/rcmdevice): a real Diameter S6a client (TS 29.272) that relays the
// device's provisioning attach to the HSS with the bootstrap AVPs of
// dict/rcm.xml (AIR, then ULR with Terminal-Information), answers the HSS's
// Cancel-Location-Request (TS 29.272 5.2.1.2) and re-attaches the device with
// its new IMSI. Run plays the whole of RCM.md figure 6 for one device, the
// device's own logic (bootstrap signature, KASME_bound, USIM, provisioning
// API) coming from package rcm.
package mmesim
