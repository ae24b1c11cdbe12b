package integration

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// pdmlField is a field of tshark's PDML output (-T pdml): the dissection
// tree of one packet, a field per protocol item.
type pdmlField struct {
	Name     string      `xml:"name,attr"`
	ShowName string      `xml:"showname,attr"`
	Show     string      `xml:"show,attr"`
	Value    string      `xml:"value,attr"`
	Fields   []pdmlField `xml:"field"`
	Protos   []pdmlProto `xml:"proto"`
}

type pdmlProto struct {
	Name   string      `xml:"name,attr"`
	Fields []pdmlField `xml:"field"`
}

type pdmlPacket struct {
	Protos []pdmlProto `xml:"proto"`
}

// wirePacket is one captured frame as Wireshark dissected it.
type wirePacket struct {
	Number    int
	Protos    []pdmlProto
	Diameter  []*wireMessage // every Diameter PDU of the frame
	TCPLen    int
	Malformed bool
	// Reassembled: the TCP payload is part of a PDU shown in a later frame.
	Reassembled bool
	// Retransmission: TCP analysis flags the segment as a retransmission,
	// whose payload Wireshark does not hand to Diameter again.
	Retransmission bool
	Expert         []wireExpert
}

// wireExpert is one expert-info item (_ws.expert).
type wireExpert struct {
	Severity       uint32 // PI_CHAT 0x200000 ... PI_ERROR 0x800000 (epan/proto.h)
	SeverityName   string
	Group, Message string
}

// expertError is PI_ERROR, the severity of malformed or invalid fields.
const expertError = 0x00800000

// wireMessage is a Diameter message as Wireshark decoded it.
type wireMessage struct {
	Frame     int
	Code      uint32
	App       uint32
	Request   bool
	HBH, E2E  uint32
	AVPs      []*wireAVP
	ShowNames []string // of the header fields, for messages
}

// wireAVP is one decoded AVP: the name from Wireshark's dictionary, its code
// and vendor, the value as shown, and its members when grouped.
type wireAVP struct {
	Name    string
	Code    uint32
	Vendor  uint32
	Show    string // the value field's show attribute ("" for grouped)
	Members []*wireAVP
	Line    string // the AVP's showname, for messages
}

// avpShowRE reads "AVP: Session-Id(263) l=58 f=-M- val=..." (packet-diameter.c).
var avpShowRE = regexp.MustCompile(`^AVP: (.*)\((\d+)\) l=`)

// parsePDML decodes tshark -T pdml output.
func parsePDML(r io.Reader) ([]*wirePacket, error) {
	dec := xml.NewDecoder(r)
	var out []*wirePacket
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("pdml: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "packet" {
			continue
		}
		var p pdmlPacket
		if err := dec.DecodeElement(&p, &se); err != nil {
			return out, fmt.Errorf("pdml: packet %d: %w", len(out)+1, err)
		}
		wp, err := newWirePacket(p)
		if err != nil {
			return out, err
		}
		out = append(out, wp)
	}
}

func newWirePacket(p pdmlPacket) (*wirePacket, error) {
	wp := &wirePacket{Protos: p.Protos}
	for _, pr := range p.Protos {
		switch pr.Name {
		case "frame":
			if f := findField(pr.Fields, "frame.number"); f != nil {
				wp.Number, _ = strconv.Atoi(f.Show)
			}
		case "tcp":
			if f := findField(pr.Fields, "tcp.len"); f != nil {
				wp.TCPLen, _ = strconv.Atoi(f.Show)
			}
			wp.Reassembled = findField(pr.Fields, "tcp.reassembled_in") != nil
			wp.Retransmission = findField(pr.Fields, "tcp.analysis.retransmission") != nil ||
				findField(pr.Fields, "tcp.analysis.fast_retransmission") != nil ||
				findField(pr.Fields, "tcp.analysis.spurious_retransmission") != nil
		case "_ws.malformed":
			wp.Malformed = true
		case "diameter":
			m, err := newWireMessage(pr.Fields)
			if err != nil {
				return nil, fmt.Errorf("pdml: frame %d: %w", wp.Number, err)
			}
			m.Frame = wp.Number
			wp.Diameter = append(wp.Diameter, m)
		}
		walkFields(pr.Fields, func(f *pdmlField) {
			if f.Name == "_ws.malformed" {
				wp.Malformed = true
			}
			if f.Name == "_ws.expert" {
				e := wireExpert{Message: f.ShowName}
				if s := findField(f.Fields, "_ws.expert.severity"); s != nil {
					e.Severity, e.SeverityName = parseUint(s.Show), s.ShowName
				}
				if g := findField(f.Fields, "_ws.expert.group"); g != nil {
					e.Group = g.ShowName
				}
				if m := findField(f.Fields, "_ws.expert.message"); m != nil {
					e.Message = m.Show
				}
				wp.Expert = append(wp.Expert, e)
			}
		})
	}
	return wp, nil
}

func newWireMessage(fields []pdmlField) (*wireMessage, error) {
	m := &wireMessage{}
	for i := range fields {
		f := &fields[i]
		switch f.Name {
		case "diameter.cmd.code":
			m.Code = parseUint(f.Show)
			m.ShowNames = append(m.ShowNames, f.ShowName)
		case "diameter.applicationId":
			m.App = parseUint(f.Show)
		case "diameter.hopbyhopid":
			m.HBH = parseUint(f.Show)
		case "diameter.endtoendid":
			m.E2E = parseUint(f.Show)
		case "diameter.flags":
			if r := findField(f.Fields, "diameter.flags.request"); r != nil {
				m.Request = r.Show == "1" || r.Show == "True"
			}
		case "diameter.avp":
			a, err := newWireAVP(f)
			if err != nil {
				return nil, err
			}
			m.AVPs = append(m.AVPs, a)
		}
	}
	return m, nil
}

func newWireAVP(f *pdmlField) (*wireAVP, error) {
	a := &wireAVP{Line: f.ShowName}
	if sm := avpShowRE.FindStringSubmatch(f.ShowName); sm != nil {
		a.Name = sm[1]
	}
	for i := range f.Fields {
		c := &f.Fields[i]
		switch {
		case c.Name == "diameter.avp.code":
			a.Code = parseUint(c.Show)
		case c.Name == "diameter.avp.vendorId":
			a.Vendor = parseUint(c.Show)
		case c.Name == "diameter.avp.flags" || c.Name == "diameter.avp.len":
		case c.Name == "diameter.avp":
			m, err := newWireAVP(c)
			if err != nil {
				return nil, err
			}
			a.Members = append(a.Members, m)
		default:
			// The value: a field named after the AVP (diameter.KASME), or
			// for a grouped AVP a subtree holding the members.
			if a.Show == "" {
				a.Show = c.Show
			}
			for j := range c.Fields {
				if c.Fields[j].Name == "diameter.avp" {
					m, err := newWireAVP(&c.Fields[j])
					if err != nil {
						return nil, err
					}
					a.Members = append(a.Members, m)
				}
			}
		}
	}
	if a.Code == 0 && a.Name == "" {
		return nil, fmt.Errorf("unreadable AVP %q", f.ShowName)
	}
	return a, nil
}

func parseUint(s string) uint32 {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
	if err != nil {
		return 0
	}
	return uint32(v)
}

func findField(fs []pdmlField, name string) *pdmlField {
	for i := range fs {
		if fs[i].Name == name {
			return &fs[i]
		}
		if f := findField(fs[i].Fields, name); f != nil {
			return f
		}
	}
	return nil
}

func walkFields(fs []pdmlField, fn func(*pdmlField)) {
	for i := range fs {
		fn(&fs[i])
		walkFields(fs[i].Fields, fn)
		for _, p := range fs[i].Protos {
			walkFields(p.Fields, fn)
		}
	}
}

// find returns the AVPs at path, a "/"-separated list of AVP names from the
// top level of the message (e.g. "Authentication-Info/E-UTRAN-Vector/KASME").
func (m *wireMessage) find(path string) []*wireAVP {
	level := m.AVPs
	var found []*wireAVP
	parts := strings.Split(path, "/")
	for i, name := range parts {
		found = found[:0]
		for _, a := range level {
			if a.Name == name {
				found = append(found, a)
			}
		}
		if i == len(parts)-1 {
			break
		}
		level = nil
		for _, a := range found {
			level = append(level, a.Members...)
		}
	}
	return found
}

// walk calls fn for every AVP of m, members included, with its path.
func (m *wireMessage) walk(fn func(path string, a *wireAVP)) {
	var rec func(prefix string, as []*wireAVP)
	rec = func(prefix string, as []*wireAVP) {
		for _, a := range as {
			p := a.Name
			if prefix != "" {
				p = prefix + "/" + a.Name
			}
			fn(p, a)
			rec(p, a.Members)
		}
	}
	rec("", m.AVPs)
}

// String lists the AVP tree, for failure messages.
func (m *wireMessage) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "frame %d: command %d app %d request=%v hbh=%#x e2e=%#x\n", m.Frame, m.Code, m.App, m.Request, m.HBH, m.E2E)
	m.walk(func(path string, a *wireAVP) {
		fmt.Fprintf(&b, "  %s = %q\n", path, a.Show)
	})
	return b.String()
}
