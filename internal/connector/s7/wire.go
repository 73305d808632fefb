package s7

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The wire format, from the public descriptions of the protocol: RFC 1006
// (TPKT: ISO transport services on top of TCP, port 102), ISO 8073 / X.224
// class 0 (COTP: connection request and confirm, data transfer), and the
// S7 communication protocol as the Snap7 project documents it and
// Wireshark's s7comm dissector decodes it (header, setup communication,
// read var with S7ANY item addresses, return codes).
const (
	tpktVersion = 0x03
	tpktHeader  = 4

	cotpCR = 0xe0 // connection request
	cotpCC = 0xd0 // connection confirm
	cotpDT = 0xf0 // data

	s7ProtocolID = 0x32
	rosctrJob    = 0x01
	rosctrAckDat = 0x03

	fnSetup   = 0xf0
	fnReadVar = 0x04

	areaDB        = 0x84
	tsByte        = 0x02 // transport size of a request item: bytes
	returnSuccess = 0xff

	minPDU  = 240
	maxPDU  = 960
	maxByte = 1<<21 - 1 // the byte part of a 3-byte bit address

	jobHeader = 10 // S7 header of a job
	ackHeader = 12 // S7 header of an ack, with the error class and code
	itemSpec  = 12 // one read var item in a request
)

// errBadFrame wraps every way an answer can be malformed.
var errBadFrame = errors.New("bad frame")

func badFrame(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadFrame, fmt.Sprintf(format, args...))
}

// writeTPKT writes one TPKT packet holding payload.
func writeTPKT(w io.Writer, payload []byte) error {
	b := make([]byte, tpktHeader, tpktHeader+len(payload))
	b[0] = tpktVersion
	binary.BigEndian.PutUint16(b[2:], uint16(tpktHeader+len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

// readTPKT reads one TPKT packet and returns its payload. A header that is
// not TPKT means the stream is out of step: errBadFrame, and the caller
// drops the connection.
func readTPKT(r io.Reader) ([]byte, error) {
	var h [tpktHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if h[0] != tpktVersion || n < tpktHeader+3 || n > tpktHeader+3+maxPDU {
		return nil, badFrame("TPKT header % x", h)
	}
	b := make([]byte, n-tpktHeader)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// connectRequest is the COTP connection request for the CPU at rack and
// slot, with the connection type's TSAP.
func connectRequest(connType byte, rack, slot int) []byte {
	return []byte{
		17, cotpCR, 0x00, 0x00, 0x00, 0x01, 0x00, // length, CR, dst ref, src ref, class 0
		0xc0, 1, 0x0a, // TPDU size 1024
		0xc1, 2, 0x01, 0x00, // calling TSAP
		0xc2, 2, connType, byte(rack<<5 | slot), // called TSAP: the CPU
	}
}

// checkConfirm checks a COTP connection confirm.
func checkConfirm(b []byte) error {
	if len(b) < 2 || int(b[0]) != len(b)-1 {
		return badFrame("COTP answer to the connection request of %d bytes", len(b))
	}
	if b[1]&0xf0 != cotpCC {
		return fmt.Errorf("the PLC refused the connection (COTP PDU type %#x; check rack, slot and connection_type)", b[1])
	}
	return nil
}

// dataHeader is the COTP header of a data TPDU that is the last of its
// message.
var dataHeader = []byte{0x02, cotpDT, 0x80}

// job returns an S7 job: COTP data header, S7 header, params.
func job(ref uint16, params []byte) []byte {
	b := append([]byte(nil), dataHeader...)
	b = append(b, s7ProtocolID, rosctrJob, 0, 0, 0, 0, 0, 0, 0, 0)
	h := b[len(dataHeader):]
	binary.BigEndian.PutUint16(h[4:], ref)
	binary.BigEndian.PutUint16(h[6:], uint16(len(params)))
	return append(b, params...)
}

func setupRequest(ref uint16, pdu int) []byte {
	p := []byte{fnSetup, 0x00, 0x00, 0x01, 0x00, 0x01, 0, 0}
	binary.BigEndian.PutUint16(p[6:], uint16(pdu))
	return job(ref, p)
}

// S7Error is an S7 answer whose header reports an error for the whole
// request: the CPU understood the request and refused it.
type S7Error struct{ Class, Code byte }

func (e *S7Error) Error() string {
	return fmt.Sprintf("the PLC answered error class %#02x code %#02x", e.Class, e.Code)
}

// ack checks a COTP data TPDU holding an S7 ack-data answer to ref and
// returns its params and data.
func ack(b []byte, ref uint16) (params, data []byte, err error) {
	if len(b) < 3 || b[0] != 2 || b[1] != cotpDT {
		return nil, nil, badFrame("not a COTP data TPDU")
	}
	s := b[3:]
	if len(s) < ackHeader {
		return nil, nil, badFrame("S7 answer of %d bytes", len(s))
	}
	if s[0] != s7ProtocolID {
		return nil, nil, badFrame("protocol id %#02x, want 0x32", s[0])
	}
	if s[1] != rosctrAckDat {
		return nil, nil, badFrame("ROSCTR %#02x, want ack data (0x03)", s[1])
	}
	if got := binary.BigEndian.Uint16(s[4:]); got != ref {
		return nil, nil, badFrame("PDU reference %d, want %d", got, ref)
	}
	pl, dl := int(binary.BigEndian.Uint16(s[6:])), int(binary.BigEndian.Uint16(s[8:]))
	if ackHeader+pl+dl != len(s) {
		return nil, nil, badFrame("parameter and data lengths %d+%d in an answer of %d bytes", pl, dl, len(s))
	}
	if s[10] != 0 || s[11] != 0 {
		return nil, nil, &S7Error{Class: s[10], Code: s[11]}
	}
	return s[ackHeader : ackHeader+pl], s[ackHeader+pl:], nil
}

// setupAnswer returns the PDU length the CPU granted.
func setupAnswer(params []byte) (int, error) {
	if len(params) != 8 || params[0] != fnSetup {
		return 0, badFrame("setup communication answer parameters % x", params)
	}
	pdu := int(binary.BigEndian.Uint16(params[6:]))
	if pdu < 64 || pdu > maxPDU {
		return 0, badFrame("granted PDU length %d", pdu)
	}
	return pdu, nil
}

// span is one read var item: count bytes of a data block from start.
type span struct {
	db    uint16
	start int
	count int
}

func readRequest(ref uint16, items []span) []byte {
	p := []byte{fnReadVar, byte(len(items))}
	for _, it := range items {
		addr := it.start << 3
		p = append(p, 0x12, 0x0a, 0x10, tsByte, byte(it.count>>8), byte(it.count), byte(it.db>>8), byte(it.db),
			areaDB, byte(addr>>16), byte(addr>>8), byte(addr))
	}
	return job(ref, p)
}

// ItemError is a read var item the CPU answered with a return code other
// than success.
type ItemError struct{ Code byte }

// Reason names the return code for Status.Rejected.
func (e ItemError) Reason() string {
	switch e.Code {
	case 0x01:
		return "hardware_fault"
	case 0x03:
		return "access_denied"
	case 0x05:
		return "address_out_of_range"
	case 0x06:
		return "data_type_not_supported"
	case 0x07:
		return "data_type_inconsistent"
	case 0x0a:
		return "object_does_not_exist"
	}
	return "item_error"
}

func (e ItemError) Error() string {
	return fmt.Sprintf("return code %#02x (%s)", e.Code, e.Reason())
}

// readAnswer splits the data of a read var answer into the items' bytes;
// an item the CPU refused has an ItemError and no bytes.
func readAnswer(params, data []byte, items []span) ([][]byte, []error, error) {
	if len(params) != 2 || params[0] != fnReadVar || int(params[1]) != len(items) {
		return nil, nil, badFrame("read var answer parameters % x for %d items", params, len(items))
	}
	out := make([][]byte, len(items))
	errs := make([]error, len(items))
	for i, it := range items {
		if len(data) < 4 {
			return nil, nil, badFrame("item %d: %d bytes left, want a 4-byte item header", i, len(data))
		}
		rc, ts, n := data[0], data[1], int(binary.BigEndian.Uint16(data[2:]))
		data = data[4:]
		switch ts {
		case 0x03, 0x04, 0x05: // bit, byte/word/dword, integer: the length is in bits
			n = (n + 7) / 8
		}
		if rc != returnSuccess {
			errs[i] = ItemError{Code: rc}
		} else if n != it.count {
			return nil, nil, badFrame("item %d: %d bytes, asked for %d", i, n, it.count)
		}
		if n > len(data) {
			return nil, nil, badFrame("item %d: %d bytes announced, %d left", i, n, len(data))
		}
		if rc == returnSuccess {
			out[i] = data[:n]
		}
		data = data[n:]
		if n%2 == 1 && i < len(items)-1 && len(data) > 0 {
			data = data[1:] // a fill byte keeps the next item at an even offset
		}
	}
	if len(data) != 0 {
		return nil, nil, badFrame("%d bytes after the last item", len(data))
	}
	return out, errs, nil
}
