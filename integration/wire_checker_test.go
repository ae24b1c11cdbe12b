package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
)

// TestWireCheckerCatchesFaults proves the checks of TestWireDecodesFullSession
// can fail: tshark decodes a pcap of crafted messages (an AVP no dictionary
// knows, an AVP whose length overruns its message, a vector without AUTN)
// and the checker must report each fault, and nothing for a sound message.
func TestWireCheckerCatchesFaults(t *testing.T) {
	tshark := lookTool(t, "tshark", "tshark")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	vector := func(withAUTN bool) *diam.AVP {
		members := []*diam.AVP{
			tgpp(1419, datatype.Unsigned32(1)),                            // Item-Number
			tgpp(1447, datatype.OctetString(bytes.Repeat([]byte{1}, 16))), // RAND
			tgpp(1448, datatype.OctetString(bytes.Repeat([]byte{2}, 8))),  // XRES
			tgpp(1450, datatype.OctetString(bytes.Repeat([]byte{4}, 32))), // KASME
		}
		if withAUTN {
			members = append(members, tgpp(1449, datatype.OctetString(bytes.Repeat([]byte{3}, 16))))
		}
		return tgppGroup(1413, tgppGroup(1414, members...))
	}
	aia := func(hbh uint32, extra ...*diam.AVP) []byte {
		m := diam.NewMessage(cmdAIR, diam.ProxiableFlag, wireS6aApp, hbh, hbh, diamdict.Default)
		m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("hss;1;1"))
		m.AddAVP(vendorSpecificS6a())
		m.NewAVP(avp.ResultCode, avp.Mbit, 0, datatype.Unsigned32(2001))
		m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
		m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test"))
		m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("test"))
		for _, a := range extra {
			m.AddAVP(a)
		}
		b, err := m.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sound := aia(1, vector(true))
	noAUTN := aia(2, vector(false))
	unknown := aia(3, diam.NewAVP(3999, avp.Vbit, wire3GPP, datatype.OctetString("?")), vector(true))
	// The last AVP (Origin-Realm, 12 octets) claims 200: it overruns the
	// message (RFC 6733 4.1 AVP Length).
	overrun := aia(4)
	binary.BigEndian.PutUint32(overrun[len(overrun)-12+4:], uint32(avp.Mbit)<<24|200)

	const port = 3868
	file := filepath.Join(t.TempDir(), "crafted.pcap")
	if err := os.WriteFile(file, tcpPcap(port, sound, noAUTN, unknown, overrun), 0o600); err != nil {
		t.Fatal(err)
	}
	env := tsharkEnv(t)
	pdml, err := runTool(ctx, env, tshark, "-r", file, "-d", fmt.Sprintf("tcp.port==%d,diameter", port), "-T", "pdml")
	if err != nil {
		t.Fatal(err)
	}
	packets, err := parsePDML(bytes.NewReader(pdml))
	if err != nil {
		t.Fatal(err)
	}
	if len(packets) != 4 {
		t.Fatalf("tshark shows %d frames, want 4", len(packets))
	}
	msgs := indexWireMessages(packets)
	want := wireExpect{
		has:    []string{"Authentication-Info/E-UTRAN-Vector/AUTN", "Authentication-Info/E-UTRAN-Vector/KASME"},
		values: map[string]string{"Result-Code": "2001"},
		counts: map[string]int{"Authentication-Info/E-UTRAN-Vector": 1},
	}
	if ps := wireProblems(packets[:1]); len(ps) != 0 {
		t.Errorf("a sound AIA reported: %v", ps)
	}
	if ps := expectProblems(msgs[wireKey{code: cmdAIR, hbh: 1, e2e: 1}], want); len(ps) != 0 {
		t.Errorf("a sound AIA reported: %v", ps)
	}
	if ps := expectProblems(msgs[wireKey{code: cmdAIR, hbh: 2, e2e: 2}], want); len(ps) != 1 || !strings.Contains(ps[0], "no Authentication-Info/E-UTRAN-Vector/AUTN") {
		t.Errorf("a vector without AUTN: %v", ps)
	}
	want.values["Result-Code"] = "5001"
	if ps := expectProblems(msgs[wireKey{code: cmdAIR, hbh: 1, e2e: 1}], want); len(ps) != 1 || !strings.Contains(ps[0], `Result-Code shows "2001", want "5001"`) {
		t.Errorf("a wrong value: %v", ps)
	}
	if ps := wireProblems(packets[2:3]); len(ps) != 1 || !strings.Contains(ps[0], "unknown to Wireshark's dictionary: code 3999 vendor 10415") {
		t.Errorf("an unknown AVP: %v", ps)
	}
	if ps := wireProblems(packets[3:4]); len(ps) == 0 {
		t.Errorf("an AVP overrunning its message is not reported; tshark shows:\n%s", wireDump(packets[3:4]))
	} else {
		t.Logf("overrunning AVP reported as: %v", ps)
	}
}

// tcpPcap is a classic pcap (LINKTYPE_RAW: IPv4 packets) of one TCP flow
// from 127.0.0.1:40000 to 127.0.0.1:port, one segment per payload, with
// contiguous sequence numbers so that tshark reads them as a stream.
func tcpPcap(port uint16, payloads ...[]byte) []byte {
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 101) // LINKTYPE_RAW
	b.Write(hdr)
	seq := uint32(1000)
	for i, p := range payloads {
		pkt := make([]byte, 40, 40+len(p))
		ip, tcp := pkt[:20], pkt[20:40]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(40+len(p)))
		binary.BigEndian.PutUint16(ip[4:], uint16(i+1))
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, 6
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		binary.BigEndian.PutUint16(tcp[0:], 40000)
		binary.BigEndian.PutUint16(tcp[2:], port)
		binary.BigEndian.PutUint32(tcp[4:], seq)
		binary.BigEndian.PutUint32(tcp[8:], 1)
		tcp[12] = 5 << 4
		tcp[13] = 0x18 // PSH, ACK
		binary.BigEndian.PutUint16(tcp[14:], 65535)
		pkt = append(pkt, p...)
		seq += uint32(len(p))
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(1700000000+i))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(pkt)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(pkt)))
		b.Write(rec)
		b.Write(pkt)
	}
	return b.Bytes()
}

// ipChecksum is the IPv4 header checksum (RFC 791).
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
