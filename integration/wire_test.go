package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
)

// wireRow is one exchange of the wire session and what Wireshark must find
// in its request and its answer. Rows run in order against one node; add a
// row to check another command (SWx, S13, RCM).
type wireRow struct {
	name string
	// do performs the exchange (or triggers it and waits for it, for
	// requests the node originates) and returns both messages.
	do func(ctx context.Context, s *wireSession) (wireExchange, error)
	// req and ans are checked against Wireshark's decoding of the request
	// and the answer.
	req, ans wireExpect
	// app, when set, skips the row unless the node advertises it in its
	// CEA (an application not yet wired into cmd/rcmhss).
	app uint32
}

// wireExpect is what must be in one decoded message. Paths name AVPs as
// Wireshark's dictionary does, from the top level, separated by "/".
type wireExpect struct {
	has []string
	// values: the value Wireshark shows for the AVP at the path (the first
	// one when several are there).
	values map[string]string
	// counts: how many AVPs are at the path.
	counts map[string]int
}

// The APNs of the session's subscribers, with fixed Context-Identifiers so
// that a PATCH keeps one and withdraws the other.
const (
	wireAPNInternet = `{"context_id":1,"name":"internet","pdn_type":"ipv4v6","qci":9,
		"arp":{"priority_level":8,"preemption_capability":false,"preemption_vulnerability":true}}`
	wireAPNIMS = `{"context_id":2,"name":"ims","pdn_type":"ipv4v6","qci":5,
		"arp":{"priority_level":1,"preemption_capability":false,"preemption_vulnerability":false}}`
)

// wireRows is the full S6a session of issue 3: an MME attaches (CER, AIR
// for 1 and 5 vectors, resync, ULR), a second MME takes over (ULR, CLR to
// the first), the UE is purged, the operator changes and deletes the
// subscriber (IDR, DSR, CLR), a 3GPP AAA server authenticates and registers
// the other subscriber over SWx (MAR, SAR), and the peers say goodbye
// (DWR, DPR).
func wireRows(t *testing.T) []wireRow {
	resync := resyncInfo(t, [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, hss.ComposeSQN(1000, 3, 5))
	return []wireRow{
		{
			name: "CER/CEA",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME1)
				cea := p.CEA()
				// The CER is not kept by the peer; the capture check finds
				// it by the CEA's identifiers.
				req := diam.NewMessage(257, diam.RequestFlag, 0, cea.Header.HopByHopID, cea.Header.EndToEndID, nil)
				return wireExchange{req: req, ans: cea}, nil
			},
			req: wireExpect{has: []string{"Origin-Host", "Vendor-Specific-Application-Id/Auth-Application-Id"}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001", "Vendor-Specific-Application-Id/Auth-Application-Id": "16777251",
					"Vendor-Specific-Application-Id/Vendor-Id": "10415", "Supported-Vendor-Id": "10415"},
				has: []string{"Origin-Host", "Origin-Realm", "Host-IP-Address", "Vendor-Id", "Product-Name"},
			},
		},
		{
			name: "AIR 1 vector",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME1)
				return s.exchange(ctx, p, s6aRequest(p, cmdAIR, wireIMSI, airBody(1, nil)...))
			},
			req: wireExpect{values: map[string]string{
				"User-Name": wireIMSI,
				"Requested-EUTRAN-Authentication-Info/Number-Of-Requested-Vectors": "1"}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001", "Auth-Session-State": "1"},
				has: []string{"Vendor-Specific-Application-Id/Vendor-Id",
					"Authentication-Info/E-UTRAN-Vector/Item-Number", "Authentication-Info/E-UTRAN-Vector/RAND",
					"Authentication-Info/E-UTRAN-Vector/XRES", "Authentication-Info/E-UTRAN-Vector/AUTN",
					"Authentication-Info/E-UTRAN-Vector/KASME"},
				counts: map[string]int{"Authentication-Info/E-UTRAN-Vector": 1},
			},
		},
		{
			name: "AIR 5 vectors",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME1)
				return s.exchange(ctx, p, s6aRequest(p, cmdAIR, wireIMSI, airBody(5, nil)...))
			},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001"},
				counts: map[string]int{"Authentication-Info/E-UTRAN-Vector": 5, "Authentication-Info/E-UTRAN-Vector/KASME": 5,
					"Authentication-Info/E-UTRAN-Vector/Item-Number": 5},
			},
		},
		{
			name: "AIR with resynchronisation",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME1)
				return s.exchange(ctx, p, s6aRequest(p, cmdAIR, wireIMSI, airBody(2, resync)...))
			},
			req: wireExpect{has: []string{"Requested-EUTRAN-Authentication-Info/Re-Synchronization-Info"}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001"},
				counts: map[string]int{"Authentication-Info/E-UTRAN-Vector/KASME": 2},
			},
		},
		{
			name: "AIR for an unknown IMSI",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME1)
				return s.exchange(ctx, p, s6aRequest(p, cmdAIR, wireIMSIAbsent, airBody(1, nil)...))
			},
			ans: wireExpect{
				values: map[string]string{"Experimental-Result/Experimental-Result-Code": "5001",
					"Experimental-Result/Vendor-Id": "10415"},
				counts: map[string]int{"Result-Code": 0, "Authentication-Info": 0},
			},
		},
		{
			name: "ULR initial attach",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME1)
				return s.exchange(ctx, p, s6aRequest(p, cmdULR, wireIMSI,
					ulrBody(hss.ULRS6aS6dIndicator|hss.ULRInitialAttach)...))
			},
			req: wireExpect{has: []string{"ULR-Flags", "Terminal-Information/IMEI", "RAT-Type", "Visited-PLMN-Id"}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001",
					"Subscription-Data/APN-Configuration-Profile/APN-Configuration/Service-Selection": "internet"},
				has: []string{"ULA-Flags", "Subscription-Data/MSISDN", "Subscription-Data/Subscriber-Status",
					"Subscription-Data/Network-Access-Mode", "Subscription-Data/AMBR/Max-Requested-Bandwidth-UL",
					"Subscription-Data/AMBR/Max-Requested-Bandwidth-DL",
					"Subscription-Data/APN-Configuration-Profile/Context-Identifier",
					"Subscription-Data/APN-Configuration-Profile/All-APN-Configurations-Included-Indicator",
					"Subscription-Data/APN-Configuration-Profile/APN-Configuration/Context-Identifier",
					"Subscription-Data/APN-Configuration-Profile/APN-Configuration/PDN-Type",
					"Subscription-Data/APN-Configuration-Profile/APN-Configuration/EPS-Subscribed-QoS-Profile/QoS-Class-Identifier",
					"Subscription-Data/APN-Configuration-Profile/APN-Configuration/EPS-Subscribed-QoS-Profile/Allocation-Retention-Priority/Priority-Level",
				},
			},
		},
		{
			name: "ULR from a second MME",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME2)
				return s.exchange(ctx, p, s6aRequest(p, cmdULR, wireIMSI, ulrBody(hss.ULRS6aS6dIndicator)...))
			},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}, has: []string{"Subscription-Data"}},
		},
		{
			name: "CLR to the first MME (MME_UPDATE_PROCEDURE)",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				return s.received(ctx, wireMME1, cmdCLR)
			},
			req: wireExpect{values: map[string]string{"User-Name": wireIMSI, "Cancellation-Type": "0",
				"Destination-Host": wireMME1}, has: []string{"CLR-Flags"}},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}},
		},
		{
			name: "PUR",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				// The other subscriber attaches to MME 1 first, then is purged.
				p := s.mme(wireMME1)
				if _, err := s.exchange(ctx, p, s6aRequest(p, cmdULR, wireIMSIOther, ulrBody(hss.ULRS6aS6dIndicator)...)); err != nil {
					return wireExchange{}, err
				}
				return s.exchange(ctx, p, s6aRequest(p, cmdPUR, wireIMSIOther, tgpp(1635, diamUnsigned(1))))
			},
			req: wireExpect{has: []string{"PUR-Flags"}},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001", "PUA-Flags": "1"}},
		},
		{
			name: "NOR",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.mme(wireMME2)
				return s.exchange(ctx, p, s6aRequest(p, cmdNOR, wireIMSI, tgpp(1443, diamUnsigned(1<<3)),
					tgppGroup(1401, tgpp(1402, diamUTF8("490154203237518")), tgpp(1403, diamUTF8("03")))))
			},
			req: wireExpect{has: []string{"NOR-Flags", "Terminal-Information/IMEI", "Terminal-Information/Software-Version"}},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}},
		},
		{
			name: "IDR after an admin PATCH",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				if err := s.admin(ctx, "PATCH", "/v1/subscribers/"+wireIMSI, `{"msisdn":"33699999999","ambr":{"dl":300000000}}`, http.StatusOK); err != nil {
					return wireExchange{}, err
				}
				return s.received(ctx, wireMME2, cmdIDR)
			},
			req: wireExpect{
				values: map[string]string{"Subscription-Data/AMBR/Max-Requested-Bandwidth-DL": "300000000"},
				has:    []string{"Subscription-Data/MSISDN", "Destination-Host"},
			},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}},
		},
		{
			name: "DSR after an admin PATCH withdrawing an APN",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				if err := s.admin(ctx, "PATCH", "/v1/subscribers/"+wireIMSI, `{"apns":[`+wireAPNInternet+`]}`, http.StatusOK); err != nil {
					return wireExchange{}, err
				}
				return s.received(ctx, wireMME2, cmdDSR)
			},
			req: wireExpect{values: map[string]string{"Context-Identifier": "2"}, has: []string{"DSR-Flags"}},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}},
		},
		{
			name: "CLR after an admin DELETE (SUBSCRIPTION_WITHDRAWAL)",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				if err := s.admin(ctx, "DELETE", "/v1/subscribers/"+wireIMSI, "", http.StatusNoContent); err != nil {
					return wireExchange{}, err
				}
				return s.received(ctx, wireMME2, cmdCLR)
			},
			req: wireExpect{values: map[string]string{"Cancellation-Type": "2"}},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}},
		},
		{
			name: "SWx MAR for EAP-AKA'",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.aaa(wireAAA)
				return s.exchange(ctx, p, swxRequest(p, cmdMAR, wireNAI,
					tgpp(1032, datatype.Enumerated(0)), // RAT-Type WLAN (TS 29.212 5.3.31)
					tgpp(607, datatype.Unsigned32(2)),  // SIP-Number-Auth-Items
					tgppGroup(612, tgpp(608, datatype.UTF8String("EAP-AKA'"))),
					tgpp(1504, datatype.UTF8String("WLAN")))) // ANID (TS 24.302 8.1.1.1)
			},
			// Wireshark names the TS 29.229 SIP-* AVPs "3GPP-SIP-*".
			req: wireExpect{has: []string{"3GPP-SIP-Auth-Data-Item/3GPP-SIP-Authentication-Scheme", "ANID"}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001", "3GPP-SIP-Number-Auth-Items": "2"},
				has: []string{"3GPP-SIP-Auth-Data-Item/3GPP-SIP-Authentication-Scheme", "3GPP-SIP-Auth-Data-Item/3GPP-SIP-Authenticate",
					"3GPP-SIP-Auth-Data-Item/3GPP-SIP-Authorization", "3GPP-SIP-Auth-Data-Item/Confidentiality-Key",
					"3GPP-SIP-Auth-Data-Item/Integrity-Key", "3GPP-SIP-Auth-Data-Item/3GPP-SIP-Item-Number"},
				counts: map[string]int{"3GPP-SIP-Auth-Data-Item": 2},
			},
		},
		{
			name: "SWx SAR registration",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.aaa(wireAAA)
				return s.exchange(ctx, p, swxRequest(p, cmdSAR, wireNAI,
					tgpp(614, datatype.Enumerated(1)))) // Server-Assignment-Type REGISTRATION
			},
			req: wireExpect{values: map[string]string{"Server-Assignment-Type": "1"}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001", "Non-3GPP-User-Data/Non-3GPP-IP-Access": "0"},
				has:    []string{"Non-3GPP-User-Data/APN-Configuration/Service-Selection"},
			},
		},
		{
			name: "S13 ECR",
			app:  wireS13App,
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				p := s.peer(wireEIRMME, wireS13App)
				return s.exchange(ctx, p, appRequest(p, wireS13App, cmdECR,
					tgppGroup(1401, tgpp(1402, diamUTF8("35609204079301")), tgpp(1403, diamUTF8("12"))),
					diam.NewAVP(avp.UserName, avp.Mbit, 0, diamUTF8(wireIMSIOther))))
			},
			req: wireExpect{has: []string{"Terminal-Information/IMEI", "Terminal-Information/Software-Version"}},
			ans: wireExpect{has: []string{"Equipment-Status"}},
		},
		{
			name: "DWR/DWA",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				return s.exchange(ctx, s.mme(wireMME1), dwr(wireMME1))
			},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}, has: []string{"Origin-State-Id"}},
		},
		{
			name: "DPR/DPA second MME",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				return s.disconnect(ctx, wireMME2)
			},
			req: wireExpect{values: map[string]string{"Disconnect-Cause": "0"}},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}},
		},
		{
			name: "DPR/DPA first MME",
			do: func(ctx context.Context, s *wireSession) (wireExchange, error) {
				return s.disconnect(ctx, wireMME1)
			},
			ans: wireExpect{values: map[string]string{"Result-Code": "2001"}},
		},
	}
}

// TestWireDecodesFullSession captures a full S6a session with a real rcmhss
// on loopback and has Wireshark's Diameter dissector, an implementation
// independent of go-diameter, decode it: every message must be decoded with
// no malformed packet, no expert-info error and no AVP Wireshark's
// dictionary does not know, and the AVPs of each row must be where TS 29.272
// puts them.
func TestWireDecodesFullSession(t *testing.T) {
	tshark := lookTool(t, "tshark", "tshark")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	n := StartNode(t, NodeOptions{})
	addr, ok := strings.CutPrefix(n.DiameterAddrs[0], "tcp://")
	if !ok {
		t.Fatalf("diameter listeners %v: no TCP", n.DiameterAddrs)
	}
	_, portText, _ := strings.Cut(addr, ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("listener %q: %v", addr, err)
	}
	for _, imsi := range []string{wireIMSI, wireIMSIOther} {
		body := fmt.Sprintf(`{"imsi":%q,"k":%q,"opc":%q,"amf":"8000","sqn":0,"msisdn":"33612345678",
			"apns":[%s,%s],"default_apn":"internet","ambr":{"ul":100000000,"dl":200000000},
			"non3gpp":{"access_allowed":true}}`, imsi, wireK, wireOPc, wireAPNInternet, wireAPNIMS)
		if r, err := n.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body)); err != nil || r.Status != http.StatusCreated {
			t.Fatalf("create %s: %v %d %s", imsi, err, r.Status, r.Body)
		}
	}

	// The node listens on a port of its own choosing (port 0, read back
	// from its ready line): no port to pick and no race for it, and the
	// port is known before any Diameter traffic, since no peer connects
	// until the first row runs.
	capt := startCapture(ctx, t, port)
	s := &wireSession{t: t, node: n, addr: addr, peers: map[string]*diametertest.Peer{}}
	rows := wireRows(t)
	exchanges := make([]wireExchange, len(rows))
	for i, row := range rows {
		if row.app != 0 && !s.serves(row.app) {
			// The lab configuration serves every application a row needs;
			// a row that silently skipped would hide a regression.
			t.Fatalf("row %q: the node does not advertise application %d", row.name, row.app)
		}
		x, err := row.do(ctx, s)
		if err != nil {
			t.Fatalf("row %q: %v", row.name, err)
		}
		exchanges[i] = x
	}
	last := exchanges[len(exchanges)-1].ans // the final DPA
	if err := capt.waitFor(ctx, headerBytes(last), nil); err != nil {
		t.Fatal(err)
	}
	if err := capt.stop(ctx); err != nil {
		t.Fatalf("stop capture: %v", err)
	}

	env := tsharkEnv(t)
	if v, err := runTool(ctx, env, tshark, "--version"); err == nil {
		first, _, _ := bytes.Cut(v, []byte("\n"))
		t.Logf("decoding with %s", first)
	}
	decodeArgs := []string{"-r", capt.File, "-d", fmt.Sprintf("tcp.port==%d,diameter", port)}
	pdml, err := runTool(ctx, env, tshark, append(decodeArgs, "-T", "pdml")...)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("RCMHSS_WIRE_KEEP"); dir != "" {
		// For a human with Wireshark: keep the capture and its decoding.
		_ = os.WriteFile(filepath.Join(dir, "wire.pdml"), pdml, 0o644)
		if b, err := os.ReadFile(capt.File); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "wire.pcapng"), b, 0o644)
		}
	}
	packets, err := parsePDML(bytes.NewReader(pdml))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range wireProblems(packets) {
		t.Error(p)
	}
	msgs := indexWireMessages(packets)
	for i, row := range rows {
		x := exchanges[i]
		if x.req == nil {
			continue // a row with nothing to check on the wire
		}
		for _, side := range []struct {
			what string
			m    *diam.Message
			want wireExpect
		}{{"request", x.req, row.req}, {"answer", x.ans, row.ans}} {
			key := wireKey{code: side.m.Header.CommandCode, request: side.what == "request", hbh: side.m.Header.HopByHopID, e2e: side.m.Header.EndToEndID}
			got, ok := msgs[key]
			if !ok {
				t.Errorf("%s: the %s (%s, hbh %#x) is not among the Diameter messages Wireshark decoded", row.name, side.what, wireCommandName(side.m), key.hbh)
				continue
			}
			if ps := expectProblems(got, side.want); len(ps) > 0 {
				t.Errorf("%s %s, as Wireshark decoded it:\n\t%s\n%s", row.name, side.what, strings.Join(ps, "\n\t"), got)
			}
		}
	}

	expert, err := runTool(ctx, env, tshark, append(decodeArgs, "-q", "-z", "expert,error")...)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(expert, []byte("Errors (")) {
		t.Errorf("tshark -z expert,error reports errors:\n%s", expert)
	}
	if t.Failed() {
		t.Logf("tshark decoding of every Diameter message:\n%s", wireDump(packets))
	}
}

// wireKey finds a decoded message by what identifies it on a connection.
type wireKey struct {
	code     uint32
	request  bool
	hbh, e2e uint32
}

func indexWireMessages(packets []*wirePacket) map[wireKey]*wireMessage {
	out := map[wireKey]*wireMessage{}
	for _, p := range packets {
		for _, m := range p.Diameter {
			out[wireKey{code: m.Code, request: m.Request, hbh: m.HBH, e2e: m.E2E}] = m
		}
	}
	return out
}

// wireProblems holds the whole capture to the bar and lists what falls
// short: each frame carrying TCP payload is decoded as Diameter (or is a
// segment of a PDU reassembled later, or a retransmission), nothing is
// malformed, no expert info has error severity, and every AVP is known to
// Wireshark's dictionary.
func wireProblems(packets []*wirePacket) []string {
	var out []string
	unknown := map[string]bool{}
	total := 0
	for _, p := range packets {
		if p.Malformed {
			out = append(out, fmt.Sprintf("frame %d is malformed (_ws.malformed)", p.Number))
		}
		for _, e := range p.Expert {
			if e.Severity >= expertError {
				out = append(out, fmt.Sprintf("frame %d: expert info %s: %s (%s)", p.Number, e.SeverityName, e.Message, e.Group))
			}
		}
		if p.TCPLen > 0 && len(p.Diameter) == 0 && !p.Reassembled && !p.Retransmission {
			out = append(out, fmt.Sprintf("frame %d carries %d octets of TCP payload that Wireshark did not decode as Diameter", p.Number, p.TCPLen))
		}
		for _, m := range p.Diameter {
			total++
			m.walk(func(path string, a *wireAVP) {
				if a.Name == "" || strings.HasPrefix(a.Name, "Unknown") {
					unknown[fmt.Sprintf("AVP unknown to Wireshark's dictionary: code %d vendor %d in command %d (%s)", a.Code, a.Vendor, m.Code, a.Line)] = true
				}
			})
		}
	}
	if total == 0 {
		out = append(out, "Wireshark decoded no Diameter message")
	}
	keys := make([]string, 0, len(unknown))
	for k := range unknown {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return append(out, keys...)
}

// expectProblems lists how m differs from want.
func expectProblems(m *wireMessage, want wireExpect) []string {
	var out []string
	for _, path := range want.has {
		if len(m.find(path)) == 0 {
			out = append(out, fmt.Sprintf("no %s", path))
		}
	}
	paths := make([]string, 0, len(want.values))
	for path := range want.values {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		v := want.values[path]
		got := m.find(path)
		switch {
		case len(got) == 0:
			out = append(out, fmt.Sprintf("no %s (want %s)", path, v))
		case got[0].Show != v:
			out = append(out, fmt.Sprintf("%s shows %q, want %q", path, got[0].Show, v))
		}
	}
	paths = paths[:0]
	for path := range want.counts {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if got, n := len(m.find(path)), want.counts[path]; got != n {
			out = append(out, fmt.Sprintf("%d AVPs at %s, want %d", got, path, n))
		}
	}
	return out
}

func wireDump(packets []*wirePacket) string {
	var b strings.Builder
	for _, p := range packets {
		for _, m := range p.Diameter {
			b.WriteString(m.String())
		}
	}
	return b.String()
}
