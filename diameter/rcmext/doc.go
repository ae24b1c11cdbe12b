// Package rcmext plugs Remote Credential Management into the S6a plugin as an
// s6a.Extension (PRODUCT.md: RCM "claims guest IMSIs and binds KASME"; RCM.md
// steps 1 to 3; docs/rcm-crypto.md is normative for every byte).
//
// For a guest IMSI it:
//
//   - AIR: decodes RCM-Bootstrap-Info (dict/rcm.xml, vendor id configurable)
//     with the rcm decoders, has rcm.Service authenticate the device, then
//     generates E-UTRAN vectors only (rcm.GuestVectorRequest) with the guest
//     K/OPc, replaces every KASME by KASME_bound and adds RCM-Binding-Info
//     (HSS ephemeral key, signature, certificate chain) to the AIA. A refusal
//     answers with the code of diameter.ResultFor (docs/rcm-crypto.md section
//     7) and no vector;
//   - ULR: answers with rcm.Service.UpdateLocation's restricted subscription,
//     whatever the HSS store holds for the IMSI; when the ULR comes from
//     another MME than the binding's, the S6a plugin cancels the old one (TS
//     29.272 5.2.1.1.3);
//   - binding expiry: Run sends a Cancel-Location-Request (TS 29.272 5.2.1.2,
//     SUBSCRIPTION_WITHDRAWAL) to the serving MME of every expired binding, and
//     one to the MME of a binding an attach displaced.
//
// Guest SQN state: the HSS needs a subscriber record for SQN_HE (TS 33.102
// C.1.2) and resynchronisation. Every guest IMSI gets one, created lazily at
// its first accepted AIR from rcm.GuestRange.RestrictedSubscriber; it is
// checked against the configured guest K/OPc/AMF at every AIR and never
// read for the ULA (docs/rcm.md).
//
// Vendor id: the AVPs are matched and built with Config.VendorID. go-diameter
// decodes an AVP whose code and vendor it does not know as an opaque value,
// and this package parses the group from raw bytes either way, so a vendor id
// other than the 32473 of dict/rcm.xml works on the wire; only the names in
// go-diameter's dictionary and in the Wireshark dictionary then need the same
// substitution (docs/rcm.md).
package rcmext
