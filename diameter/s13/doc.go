// Package s13 is the S13 Diameter application (TS 29.272 clause 5.3 and
// 7.2.19/7.2.20, application 16777252) as a diameter.Application plugin: the
// EIR side of the ME Identity Check an MME makes. ECR/ECA: the IMEI (or
// IMEISV) of Terminal-Information (7.3.3) is checked against the white, grey
// and black lists of hss.EIR and answered with Equipment-Status (7.3.51), or
// DIAMETER_ERROR_EQUIPMENT_UNKNOWN (5422) when so configured; a malformed
// IMEI is DIAMETER_INVALID_AVP_VALUE with Failed-AVP.
package s13
