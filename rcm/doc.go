// Package rcm is the pure domain of Remote Credential Management in the HSS
// (EP 2850806; ../shared/spec/RCM.md steps 0 to 3): the guest identity range,
// the authorised device profiles (patent message 650), the verification of a
// device's bootstrap information on a provisioning attach (messages 652-656),
// the KASME bound to the device, the restricted guest subscription (message
// 658), guest bindings and the hash-chained audit log.
//
// The wire formats, the transcript, the key derivation and the test vectors
// are specified in docs/rcm-crypto.md, which rcm/vectors_test.go checks. Device
// certificates carry the IMEI as an RFC 7254 URN in a URI subjectAltName, the
// IMEI itself follows TS 23.003 6.2.1 (Luhn check digit, Annex B). Certificate
// paths are checked with crypto/x509 (RFC 5280 6.1); revocation, which
// crypto/x509 does not do, is applied here (denylists and issuer-signed CRLs,
// RFC 5280 6.3). KASME_bound uses HKDF-SHA256 (RFC 5869) over the TS 33.401
// A.2 KASME of the guest vector and a P-256 ECDH secret (SEC 1 3.3.1).
//
// Service ties these together as the HSS's RCM extension: the S6a plugin
// hands it every guest AIR and ULR (IsGuest), and it verifies, binds, answers
// with the restricted subscription, expires bindings and audits each step.
// Store is its state, implemented in-process by rcm/memstore and checked by
// the conformance suite rcm/storetest.
//
// The RCM server of steps 4 to 8 (figures 5 and 6) is here too: credential
// providers, offers, pre-registrations and the provisioning session state
// machine (Provisioner, state in a ProvisioningStore shared by every node),
// credentials sealed to the device with HPKE (RFC 9180), the swap through
// the HSS and a Detacher, the provisioning API over mutual TLS
// (NewProvisioningHandler), the per-provider admin API
// (NewProviderAdminHandler) and the device side (ProvisioningClient, USIM,
// DemoPKI) used by cmd/rcmdevice.
//
// Like package hss it imports no transport or storage library: the S6a plugin
// maps the vendor AVPs of dict/rcm.xml to Bootstrap and BindingProof, and the
// stores implement Store.
package rcm
