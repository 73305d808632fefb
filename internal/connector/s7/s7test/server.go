// Package s7test runs a minimal S7 PLC in-process, for tests: a test peer
// that speaks S7comm over ISO-on-TCP far enough for the s7 input — COTP
// connection request and confirm, S7 setup communication, and read var of
// data block (DB) areas — and nothing else (no write, no other areas, no
// user data, no PDU splitting). It is written from the public descriptions
// of the protocol on its own, sharing no code with the input, so that a
// misreading of the protocol in one is not hidden by the same misreading in
// the other:
//
//   - RFC 1006: TPKT, a 4-byte header (version 3, reserved, length of the
//     whole packet) in front of each ISO transport PDU, on TCP port 102;
//   - ISO 8073 / X.224 class 0 (COTP): connection request (PDU type 0xE0)
//     with the called TSAP (connection type, rack << 5 | slot), answered by
//     a connection confirm (0xD0); data PDUs (0xF0, "last data unit" 0x80);
//   - S7comm, as the Snap7 project documents it and Wireshark's s7comm
//     dissector decodes it: protocol id 0x32, ROSCTR 1 (job) and 3 (ack
//     data, with an error class and code), PDU reference, parameter and
//     data lengths; setup communication (function 0xF0: max AmQ calling and
//     called, PDU length); read var (function 0x04) with S7ANY items (0x12,
//     0x0A, syntax id 0x10, transport size, count, DB number, area 0x84,
//     3-byte bit address), answered per item with a return code (0xFF
//     success, 0x0A object does not exist, 0x05 address out of range), a
//     transport size (0x04: length in bits) and the bytes, padded to an
//     even length between items.
package s7test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Server is an in-process S7 PLC with data blocks the caller sets. Its
// methods are safe for concurrent use.
type Server struct {
	pdu int // the PDU length it grants at most

	mu     sync.Mutex // guards the fields below
	dbs    map[uint16][]byte
	garble int
	lis    net.Listener
	addr   string
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// NewServer starts a PLC on 127.0.0.1 at an ephemeral port that grants a
// PDU length of at most pdu (240 for an S7-1200, 480 or 960 for others).
func NewServer(pdu int) (*Server, error) { return Listen("127.0.0.1:0", pdu) }

// Listen starts a PLC on addr (host:port; port 0 picks one), for the
// simulated factory.
func Listen(addr string, pdu int) (*Server, error) {
	s := &Server{pdu: pdu, dbs: map[uint16][]byte{}, conns: map[net.Conn]struct{}{}}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.lis, s.addr = lis, lis.Addr().String()
	s.wg.Add(1)
	go s.accept(lis)
	return s, nil
}

// Addr is the host:port it listens on; it stays the same across Stop and
// Start.
func (s *Server) Addr() string { return s.addr }

// SetDB makes data block db hold data (a copy), replacing it.
func (s *Server) SetDB(db uint16, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs[db] = append([]byte(nil), data...)
}

// Set writes b into data block db at offset, growing it as needed.
func (s *Server) Set(db uint16, offset int, b ...byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dbs[db]
	if need := offset + len(b); len(d) < need {
		d = append(d, make([]byte, need-len(d))...)
	}
	copy(d[offset:], b)
	s.dbs[db] = d
}

// GarbleNext makes the next n read var answers malformed S7, their TPKT
// framing right: the last of them with a wrong protocol id, the ones before
// it alternately with an item longer than the answer.
func (s *Server) GarbleNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.garble += n
}

// Stop stops listening and drops every connection, as a PLC switched off;
// the data blocks are kept.
func (s *Server) Stop() error {
	s.mu.Lock()
	lis := s.lis
	s.lis = nil
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	if lis == nil {
		return nil
	}
	err := lis.Close()
	s.wg.Wait()
	return err
}

// Start listens again on the same address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis != nil {
		return nil
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.lis = lis
	s.wg.Add(1)
	go s.accept(lis)
	return nil
}

// Close is Stop.
func (s *Server) Close() error { return s.Stop() }

func (s *Server) accept(lis net.Listener) {
	defer s.wg.Done()
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.lis != lis {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

var errProtocol = errors.New("s7test: protocol error")

// serve answers one connection: connection request, setup, then jobs.
func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	// COTP connection request: LI, 0xE0, dst ref, src ref, class, params.
	p, err := readPacket(c)
	if err != nil || len(p) < 7 || p[1] != 0xe0 {
		return
	}
	cc := append([]byte{0, 0xd0, p[4], p[5], 0x00, 0x01, 0x00}, p[7:]...) // refs swapped, same params
	cc[0] = byte(len(cc) - 1)
	if writePacket(c, cc) != nil {
		return
	}
	pdu := 0
	for {
		p, err := readPacket(c)
		if err != nil {
			return
		}
		// COTP DT header (3 bytes), then the S7 job header (10 bytes).
		if len(p) < 13 || p[1] != 0xf0 || p[3] != 0x32 || p[4] != 0x01 {
			return
		}
		ref := binary.BigEndian.Uint16(p[7:9])
		plen := int(binary.BigEndian.Uint16(p[9:11]))
		params := p[13:]
		if len(params) < plen || plen < 1 {
			return
		}
		params = params[:plen]
		var ans []byte
		switch {
		case params[0] == 0xf0 && plen == 8:
			pdu = min(int(binary.BigEndian.Uint16(params[6:8])), s.pdu)
			ap := []byte{0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, byte(pdu >> 8), byte(pdu)}
			ans = ackData(ref, ap, nil, 0, 0)
		case params[0] == 0x04 && pdu > 0:
			ans = s.readVar(ref, params)
		default:
			ans = ackData(ref, []byte{params[0]}, nil, 0x81, 0x04) // function not supported
		}
		if writePacket(c, ans) != nil {
			return
		}
	}
}

// readVar answers a read var job.
func (s *Server) readVar(ref uint16, params []byte) []byte {
	n := int(params[1])
	if len(params) != 2+12*n {
		return ackData(ref, params[:1], nil, 0x85, 0x00) // error in PDU format
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var data []byte
	for i := range n {
		it := params[2+12*i : 14+12*i]
		count := int(binary.BigEndian.Uint16(it[4:6]))
		db := binary.BigEndian.Uint16(it[6:8])
		addr := int(it[9])<<16 | int(it[10])<<8 | int(it[11])
		start := addr >> 3
		d, ok := s.dbs[db]
		switch {
		case it[0] != 0x12 || it[2] != 0x10 || it[8] != 0x84 || it[3] != 0x02:
			data = append(data, 0x06, 0x00, 0, 0) // only bytes of data blocks
		case !ok:
			data = append(data, 0x0a, 0x00, 0, 0)
		case start+count > len(d):
			data = append(data, 0x05, 0x00, 0, 0)
		default:
			bits := count * 8
			data = append(data, 0xff, 0x04, byte(bits>>8), byte(bits))
			data = append(data, d[start:start+count]...)
			if count%2 == 1 && i < n-1 {
				data = append(data, 0)
			}
		}
	}
	ap := []byte{0x04, byte(n)}
	if s.garble > 0 {
		s.garble--
		if s.garble%2 == 0 {
			a := ackData(ref, ap, data, 0, 0)
			a[3] = 0x33 // not the S7 protocol id
			return a
		}
		if len(data) >= 4 {
			data[2] = 0xff // an item longer than the answer
		}
	}
	return ackData(ref, ap, data, 0, 0)
}

// ackData is a COTP DT PDU holding an S7 ack-data answer.
func ackData(ref uint16, params, data []byte, errClass, errCode byte) []byte {
	b := []byte{0x02, 0xf0, 0x80, 0x32, 0x03, 0, 0,
		byte(ref >> 8), byte(ref), byte(len(params) >> 8), byte(len(params)), byte(len(data) >> 8), byte(len(data)),
		errClass, errCode}
	b = append(b, params...)
	return append(b, data...)
}

func readPacket(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if h[0] != 3 || n < 5 {
		return nil, fmt.Errorf("%w: TPKT header % x", errProtocol, h)
	}
	b := make([]byte, n-4)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writePacket(w io.Writer, p []byte) error {
	b := append([]byte{3, 0, byte((len(p) + 4) >> 8), byte(len(p) + 4)}, p...)
	_, err := w.Write(b)
	return err
}
