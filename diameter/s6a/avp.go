package s6a

import "github.com/fiorix/go-diameter/v4/diam/avp"

// Application identity (TS 29.272 7.1.8).
const (
	AppID    uint32 = 16777251
	VendorID uint32 = 10415 // 3GPP
)

// Command codes (TS 29.272 7.2.2, table 7.2.2/1).
const (
	cmdUpdateLocation       uint32 = 316
	cmdCancelLocation       uint32 = 317
	cmdAuthenticationInfo   uint32 = 318
	cmdInsertSubscriberData uint32 = 319
	cmdDeleteSubscriberData uint32 = 320
	cmdPurgeUE              uint32 = 321
	cmdNotify               uint32 = 323
)

// AVP codes used by S6a. Codes from RFC 6733 come from go-diameter's avp
// package; the 3GPP ones are listed here with the clause that defines them.
const (
	codeSubscriptionData        uint32 = 1400 // TS 29.272 7.3.2
	codeTerminalInformation     uint32 = 1401 // 7.3.3
	codeIMEI                    uint32 = 1402 // 7.3.4
	codeSoftwareVersion         uint32 = 1403 // 7.3.5
	codeULRFlags                uint32 = 1405 // 7.3.7
	codeULAFlags                uint32 = 1406 // 7.3.8
	codeVisitedPLMNID           uint32 = 1407 // 7.3.9
	codeRequestedEUTRANAuthInfo uint32 = 1408 // 7.3.11
	codeRequestedUTRANGERANInfo uint32 = 1409 // 7.3.12
	codeNumberOfRequestedVecs   uint32 = 1410 // 7.3.14
	codeResyncInfo              uint32 = 1411 // 7.3.15
	codeImmediateResponsePref   uint32 = 1412 // 7.3.16
	codeAuthenticationInfo      uint32 = 1413 // 7.3.17
	codeEUTRANVector            uint32 = 1414 // 7.3.18
	codeUTRANVector             uint32 = 1415 // 7.3.19
	codeGERANVector             uint32 = 1416 // 7.3.20
	codeNetworkAccessMode       uint32 = 1417 // 7.3.21
	codeItemNumber              uint32 = 1419 // 7.3.23
	codeCancellationType        uint32 = 1420 // 7.3.24
	codeDSRFlags                uint32 = 1421 // 7.3.25
	codeDSAFlags                uint32 = 1422 // 7.3.26
	codeContextIdentifier       uint32 = 1423 // 7.3.27
	codeSubscriberStatus        uint32 = 1424 // 7.3.29
	codeAccessRestrictionData   uint32 = 1426 // 7.3.31
	codeAllAPNConfigsIncluded   uint32 = 1428 // 7.3.33
	codeAPNConfigurationProfile uint32 = 1429 // 7.3.34
	codeAPNConfiguration        uint32 = 1430 // 7.3.35
	codeEPSSubscribedQoSProfile uint32 = 1431 // 7.3.37
	codeAMBR                    uint32 = 1435 // 7.3.41
	codePUAFlags                uint32 = 1442 // 7.3.48
	codeNORFlags                uint32 = 1443 // 7.3.49
	codeRAND                    uint32 = 1447 // 7.3.53
	codeXRES                    uint32 = 1448 // 7.3.54
	codeAUTN                    uint32 = 1449 // 7.3.55
	codeKASME                   uint32 = 1450 // 7.3.56
	codeKc                      uint32 = 1453 // 7.3.59
	codeSRES                    uint32 = 1454 // 7.3.60
	codePDNType                 uint32 = 1456 // 7.3.62
	codeIDRFlags                uint32 = 1490 // 7.3.103
	codePeriodicRAUTAUTimer     uint32 = 1619 // 7.3.134
	codePURFlags                uint32 = 1635 // 7.3.149
	codeCLRFlags                uint32 = 1638 // 7.3.152

	codeConfidentialityKey uint32 = 625 // TS 29.229 6.3.10
	codeIntegrityKey       uint32 = 626 // TS 29.229 6.3.11
	codeSupportedFeatures  uint32 = 628 // TS 29.229 6.3.29
	codeFeatureListID      uint32 = 629 // TS 29.229 6.3.30
	codeFeatureList        uint32 = 630 // TS 29.229 6.3.31
	codeMSISDN             uint32 = 701 // TS 29.329 6.3.2

	codeMaxRequestedBandwidthDL uint32 = 515  // TS 29.214 5.3.14
	codeMaxRequestedBandwidthUL uint32 = 516  // TS 29.214 5.3.15
	codeQoSClassIdentifier      uint32 = 1028 // TS 29.212 5.3.17
	codeRATType                 uint32 = 1032 // TS 29.212 5.3.31
	codeARP                     uint32 = 1034 // TS 29.212 5.3.32
	codePriorityLevel           uint32 = 1046 // TS 29.212 5.3.45
	codePreemptionCapability    uint32 = 1047 // TS 29.212 5.3.46
	codePreemptionVulnerability uint32 = 1048 // TS 29.212 5.3.47
	codeServedPartyIPAddress    uint32 = 848  // TS 32.299 7.2.187
	codeServiceSelection        uint32 = 493  // RFC 5778 6.2 (no vendor)
)

// AVP header flags. 3GPP AVPs of TS 29.272 are sent with M and V set (table
// 7.3.1/1); Supported-Features and its members must not carry M (TS 29.229
// 6.3.29-31) and the TS 29.212 QoS members carry V only (TS 29.212 table 5.3.1).
const (
	flagsMV = avp.Mbit | avp.Vbit
	flagsV  = avp.Vbit
	flagsM  = avp.Mbit
)

// ULA-Flags bits (TS 29.272 7.3.8).
const (
	ulaSeparationIndication uint32 = 1 << 0
)

// PUR-Flags / PUA-Flags bits (TS 29.272 7.3.149, 7.3.48).
const (
	purUEPurgedInMME uint32 = 1 << 0
	puaFreezeMTMSI   uint32 = 1 << 0
)

// CLR-Flags bits (TS 29.272 7.3.152).
const (
	clrS6aS6dIndicator uint32 = 1 << 0
)

// DSR-Flags bits (TS 29.272 7.3.25).
const (
	dsrCompleteAPNConfigurationProfileWithdrawal uint32 = 1 << 1
	dsrPDNSubscriptionContextsWithdrawal         uint32 = 1 << 3
)

// Cancellation-Type values (TS 29.272 7.3.24).
const (
	CancelMMEUpdateProcedure     uint32 = 0
	CancelSubscriptionWithdrawal uint32 = 2
	CancelInitialAttachProcedure uint32 = 4
)

// All-APN-Configurations-Included-Indicator values (TS 29.272 7.3.33).
const (
	allAPNConfigurationsIncluded           uint32 = 0
	modifiedAddedAPNConfigurationsIncluded uint32 = 1
)

// Auth-Session-State NO_STATE_MAINTAINED (RFC 6733 8.11): S6a is stateless
// (TS 29.272 7.1.3 ... every command carries it with this value).
const noStateMaintained uint32 = 1

// featureListID1 is the Feature-List-ID whose bits TS 29.272 7.3.10 defines.
const featureListID1 uint32 = 1
