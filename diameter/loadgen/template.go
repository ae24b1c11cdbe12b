package loadgen

import (
	"encoding/binary"
	"net/netip"
)

// kind is what one request (or, for attach, one transaction) is, for the
// templates and the statistics.
type kind uint8

const (
	kindAIR kind = iota
	kindAIRResync
	kindULR
	kindPUR
	kindMAR
	kindSAR
	kindECR
	kindAttach // the AIR+ULR transaction, counted on its own
	numKinds
)

var kindNames = [numKinds]string{"AIR", "AIR-resync", "ULR", "PUR", "MAR", "SAR", "ECR", "attach"}

func (k kind) String() string { return kindNames[k] }

const (
	sidDigits  = 10 // RFC 6733 8.8: <DiameterIdentity>;<high 32 bits>;<low 32 bits>
	imeiDigits = 14 // TS 23.003 6.2.1: TAC(8) SNR(6), without the check digit
	imeiTAC    = 35_000_000
)

// template is a request encoded once, with the offsets of what changes from
// one request to the next.
type template struct {
	msg  []byte
	sid  int // the 10 trailing digits of Session-Id
	user int // User-Name (the IMSI)
	imei int // IMEI inside Terminal-Information, or 0
}

// appendTo appends the request to dst with its fields patched in place.
func (t *template) appendTo(dst []byte, hbh, e2e, sid uint32, imsi uint64, imsiDigits int, imei uint64) []byte {
	start := len(dst)
	dst = append(dst, t.msg...)
	m := dst[start:]
	binary.BigEndian.PutUint32(m[12:16], hbh)
	binary.BigEndian.PutUint32(m[16:20], e2e)
	putDigits(m[t.sid:t.sid+sidDigits], uint64(sid))
	putDigits(m[t.user:t.user+imsiDigits], imsi)
	if t.imei != 0 {
		putDigits(m[t.imei:t.imei+imeiDigits], imeiTAC*1_000_000+imei%1_000_000)
	}
	return dst
}

// buildTemplates encodes every request kind for one connection; sidPrefix
// makes its Session-Ids unique ("host;boot;conn;").
func buildTemplates(id Identity, sidPrefix string, imsiDigits int, resync []byte) [numKinds]*template {
	var out [numKinds]*template
	placeholderSID := sidPrefix + "0000000000"
	placeholderIMSI := string(make([]byte, imsiDigits))

	// head encodes what every request of this tool starts with: Session-Id
	// first (RFC 6733 8.8), then the application's fixed AVPs.
	head := func(e *encoder, vsa uint32) (sid int) {
		sid = e.str(avpSessionID, 0, placeholderSID) + len(sidPrefix)
		if vsa != 0 {
			var g encoder
			g.u32(avpVendorID, 0, vendor3GPP)
			g.u32(avpAuthApplicationID, 0, vsa)
			e.group(avpVendorSpecificAppID, 0, &g)
		}
		e.u32(avpAuthSessionState, 0, authSessionNoState)
		e.str(avpOriginHost, 0, id.OriginHost)
		e.str(avpOriginRealm, 0, id.OriginRealm)
		if id.DestinationHost != "" {
			e.str(avpDestinationHost, 0, id.DestinationHost)
		}
		e.str(avpDestinationRealm, 0, id.DestinationRealm)
		return sid
	}
	finish := func(k kind, cmd, app uint32, e *encoder, sid, user, imei int) {
		t := &template{msg: message(flagRequest|flagProxiable, cmd, app, e.b), sid: sid + headerLen, user: user + headerLen}
		if imei != 0 {
			t.imei = imei + headerLen
		}
		out[k] = t
	}

	// TS 29.272 5.2.3.1.2 AIR: one E-UTRAN vector, no immediate response.
	air := func(k kind, resync []byte) {
		var e encoder
		sid := head(&e, 0)
		user := e.str(avpUserName, 0, placeholderIMSI)
		var g encoder
		g.u32(avpNumberOfRequestedVectors, vendor3GPP, 1)
		g.u32(avpImmediateResponsePref, vendor3GPP, 0)
		if resync != nil {
			// TS 29.272 7.3.15: RAND (16 octets) followed by AUTS (14).
			g.avp(avpReSynchronizationInfo, avpFlagMandatory, vendor3GPP, resync)
		}
		e.group(avpRequestedEUTRANAuthInfo, vendor3GPP, &g)
		e.avp(avpVisitedPLMNID, avpFlagMandatory, vendor3GPP, id.VisitedPLMN[:])
		finish(k, cmdAIR, appS6a, &e, sid, user, 0)
	}
	air(kindAIR, nil)
	air(kindAIRResync, resync)

	{ // TS 29.272 5.2.1.1.2 ULR from an MME over E-UTRAN.
		var e encoder
		sid := head(&e, 0)
		user := e.str(avpUserName, 0, placeholderIMSI)
		e.u32(avpRATType, vendor3GPP, ratEUTRAN)
		e.u32(avpULRFlags, vendor3GPP, ulrFlagsMME)
		e.avp(avpVisitedPLMNID, avpFlagMandatory, vendor3GPP, id.VisitedPLMN[:])
		finish(kindULR, cmdULR, appS6a, &e, sid, user, 0)
	}
	{ // TS 29.272 5.2.3.1.2 PUR.
		var e encoder
		sid := head(&e, 0)
		user := e.str(avpUserName, 0, placeholderIMSI)
		finish(kindPUR, cmdPUR, appS6a, &e, sid, user, 0)
	}
	{ // TS 29.273 8.2.2.1 MAR for EAP-AKA' (non-3GPP access over WLAN).
		var e encoder
		sid := head(&e, appSWx)
		user := e.str(avpUserName, 0, placeholderIMSI)
		e.u32(avpSIPNumberAuthItems, vendor3GPP, 1)
		var g encoder
		g.str(avpSIPAuthenticationScheme, vendor3GPP, "EAP-AKA'")
		e.group(avpSIPAuthDataItem, vendor3GPP, &g)
		e.u32(avpRATType, vendor3GPP, 0) // WLAN
		e.str(avpANID, vendor3GPP, "WLAN")
		finish(kindMAR, cmdMAR, appSWx, &e, sid, user, 0)
	}
	{ // TS 29.273 8.2.2.3 SAR, REGISTRATION.
		var e encoder
		sid := head(&e, appSWx)
		user := e.str(avpUserName, 0, placeholderIMSI)
		e.u32(avpServerAssignmentType, vendor3GPP, sarRegistration)
		finish(kindSAR, cmdSAR, appSWx, &e, sid, user, 0)
	}
	{ // TS 29.272 6.2.1 ECR: Terminal-Information then User-Name.
		var e encoder
		sid := head(&e, 0)
		var g encoder
		imei := g.str(avpIMEI, vendor3GPP, string(make([]byte, imeiDigits)))
		g.str(avpSoftwareVersion, vendor3GPP, "01")
		gOff := e.group(avpTerminalInformation, vendor3GPP, &g)
		user := e.str(avpUserName, 0, placeholderIMSI)
		finish(kindECR, cmdECR, appS13, &e, sid, user, gOff+imei)
	}
	return out
}

// cer is the Capabilities-Exchange-Request (RFC 6733 5.3.1) advertising
// apps as 3GPP Vendor-Specific-Application-Ids.
func cer(id Identity, host netip.Addr, apps []uint32, originState uint32) []byte {
	var e encoder
	e.str(avpOriginHost, 0, id.OriginHost)
	e.str(avpOriginRealm, 0, id.OriginRealm)
	e.address(avpHostIPAddress, host)
	e.u32(avpVendorID, 0, 0)
	e.avp(avpProductName, 0, 0, []byte("diamload"))
	e.u32(avpOriginStateID, 0, originState)
	e.u32(avpSupportedVendorID, 0, vendor3GPP)
	for _, app := range apps {
		var g encoder
		g.u32(avpVendorID, 0, vendor3GPP)
		g.u32(avpAuthApplicationID, 0, app)
		e.group(avpVendorSpecificAppID, 0, &g)
	}
	e.avp(avpFirmwareRevision, 0, 0, []byte{0, 0, 0, 1})
	return message(flagRequest, cmdCER, appBase, e.b)
}

// baseAnswer is a DWA or DPA (RFC 6733 5.5.2, 5.4.2): Result-Code 2001,
// Origin-Host, Origin-Realm, with the identifiers of req.
func baseAnswer(req []byte, originHost, originRealm string) []byte {
	var e encoder
	e.u32(avpResultCode, 0, 2001)
	e.str(avpOriginHost, 0, originHost)
	e.str(avpOriginRealm, 0, originRealm)
	m := message(0, uint24(req[5:8]), binary.BigEndian.Uint32(req[8:12]), e.b)
	copy(m[12:20], req[12:20])
	return m
}

// appAnswer answers a request the server originates on an application (CLR,
// IDR, DSR, RSR on S6a; PPR, RTR on SWx) as an MME or AAA server that
// accepts it: Session-Id and Vendor-Specific-Application-Id copied from the
// request, Result-Code 2001, Auth-Session-State NO_STATE_MAINTAINED (TS
// 29.272 7.2: every S6a answer carries it). A load generator that left them
// unanswered would make the server wait for its request timeout on each.
func appAnswer(req []byte, originHost, originRealm string) []byte {
	var e encoder
	for _, code := range []uint32{avpSessionID, avpVendorSpecificAppID} {
		if raw := topAVP(req, code); raw != nil {
			e.raw(raw)
		}
	}
	e.u32(avpResultCode, 0, 2001)
	e.u32(avpAuthSessionState, 0, 1)
	e.str(avpOriginHost, 0, originHost)
	e.str(avpOriginRealm, 0, originRealm)
	m := message(req[4]&^(flagRequest|flagError), uint24(req[5:8]), binary.BigEndian.Uint32(req[8:12]), e.b)
	copy(m[12:20], req[12:20])
	return m
}

// topAVP returns the first top-level AVP of msg with code (no vendor), its
// header and data without padding, or nil.
func topAVP(msg []byte, code uint32) []byte {
	body := msg[headerLen:]
	for off := 0; off < len(body); {
		c, vendor, _, next, err := nextAVP(body, off)
		if err != nil {
			return nil
		}
		if c == code && vendor == 0 {
			// nextAVP checked the AVP Length against the message.
			return body[off : off+int(uint24(body[off+5:off+8]))]
		}
		off = next
	}
	return nil
}
