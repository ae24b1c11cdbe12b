// Package swx is the SWx Diameter application (TS 29.273 clause 8,
// application 16777265) as a diameter.Application plugin: the HSS side of
// the interface to the 3GPP AAA server that serves untrusted non-3GPP access
// (ePDG, TS 23.402).
//
//   - MAR/MAA (TS 29.273 8.1.2.1, 8.2.2): EAP-AKA (RFC 4187) and EAP-AKA'
//     (RFC 9048, CK'/IK' of TS 33.402 A.2 bound to the ANID) vectors in
//     SIP-Auth-Data-Item, resynchronisation with RAND||AUTS in
//     SIP-Authorization (TS 33.102 6.3.5), registration of the 3GPP AAA
//     server and DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED naming the one
//     already registered.
//   - SAR/SAA (TS 29.273 8.1.2.2): every Server-Assignment-Type SWx uses,
//     with Non-3GPP-User-Data (8.2.3.1) built from the subscriber.
//   - PPR (8.1.2.3) when the operator changes what the AAA server holds of a
//     user, and RTR (8.1.2.2.2) with PERMANENT_TERMINATION when the user is
//     deleted or loses non-3GPP access: the plugin is an
//     hss.SubscriberObserver.
//
// User-Name is the permanent identity: an IMSI or a root NAI with the
// EAP-AKA ("0") or EAP-AKA' ("6") prefix (TS 23.003 19.3.2).
package swx
