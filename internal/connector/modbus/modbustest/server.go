// Package modbustest runs a Modbus device in-process for tests, benchmarks
// and the simulated factory: a github.com/simonvetter/modbus TCP server
// holding four tables of values the caller sets, behind a listener on an
// ephemeral port of 127.0.0.1.
//
// The listener is a thin frame relay in front of the library's server. It
// lets the device speak RTU over TCP (the library's server speaks only
// Modbus TCP), lets a test corrupt responses (GarbleNext), and lets a test
// stop and restart the device on the same address (Stop, Start): the relay
// drops its connections and stops listening; the values are kept.
//
// NewSerialServer puts the same device on a serial port (in tests, one end
// of a pseudo-terminal pair): the relay reads RTU requests from the port
// and answers on it, and Stop makes the device fall silent, as a slave on
// a serial line that is switched off.
package modbustest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mb "github.com/simonvetter/modbus"
)

// Framing is how the device frames requests and responses on the wire.
type Framing uint8

// The framings.
const (
	TCP        Framing = iota // Modbus TCP: MBAP header, no CRC
	RTUOverTCP                // RTU frames (unit, PDU, CRC-16) over a TCP stream
	RTU                       // RTU frames on a serial port
)

func (f Framing) String() string {
	switch f {
	case RTUOverTCP:
		return "rtuovertcp"
	case RTU:
		return "rtu"
	}
	return "tcp"
}

// Server is an in-process Modbus device. Its methods are safe for
// concurrent use.
type Server struct {
	framing Framing
	backend *mb.ModbusServer
	backURL string // tcp://127.0.0.1:port of the library's server

	mu       sync.Mutex // guards the fields below
	tables   [4]map[uint16]uint16
	holdFunc func() map[uint16]uint16
	garble   int
	lis      net.Listener
	addr     string
	conns    map[net.Conn]struct{}
	closed   bool
	port     io.ReadWriteCloser // RTU: the serial port
	silent   bool               // RTU: stopped; requests are read and not answered

	wg       sync.WaitGroup // relay goroutines
	requests atomic.Int64
}

const (
	tHolding = iota
	tInput
	tCoil
	tDiscrete
)

// NewServer starts a device on 127.0.0.1 at an ephemeral port. Every table
// starts empty: a read of an address that was never set fails with the
// exception "illegal data address", as on a real device.
func NewServer(framing Framing) (*Server, error) {
	return newServer(framing, "127.0.0.1:0", nil)
}

// ServeFactory serves values as holding registers at addr (use
// "127.0.0.1:0" for an ephemeral port) until ctx ends, over Modbus TCP.
// values is called for every read request, so it may return changing
// values (a simulated machine's registers); an address it does not return
// reads as the exception "illegal data address". ServeFactory returns the
// address it listens on.
func ServeFactory(ctx context.Context, addr string, values func() map[uint16]uint16) (string, error) {
	s, err := newServer(TCP, addr, values)
	if err != nil {
		return "", err
	}
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s.Addr(), nil
}

func newServer(framing Framing, addr string, holdFunc func() map[uint16]uint16) (*Server, error) {
	s := &Server{framing: framing, holdFunc: holdFunc, conns: make(map[net.Conn]struct{})}
	for i := range s.tables {
		s.tables[i] = make(map[uint16]uint16)
	}
	if err := s.startBackend(); err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		s.backend.Stop()
		return nil, fmt.Errorf("modbustest: listen: %w", err)
	}
	s.lis, s.addr = lis, lis.Addr().String()
	s.wg.Add(1)
	go s.accept(lis)
	return s, nil
}

// startBackend starts the library's server on a free port. The library
// does not report the port it bound, so a free one is found first; another
// process may take it in between, hence the retries.
func (s *Server) startBackend() error {
	var err error
	for range 5 {
		var l net.Listener
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("modbustest: find a port: %w", err)
		}
		url := "tcp://" + l.Addr().String()
		l.Close()
		var srv *mb.ModbusServer
		srv, err = mb.NewServer(&mb.ServerConfiguration{
			URL:        url,
			Timeout:    time.Minute,
			MaxClients: 256,
			Logger:     log.New(io.Discard, "", 0),
		}, handler{s})
		if err != nil {
			return fmt.Errorf("modbustest: %w", err)
		}
		if err = srv.Start(); err == nil {
			s.backend, s.backURL = srv, url
			return nil
		}
	}
	return fmt.Errorf("modbustest: start server: %w", err)
}

// NewSerialServer starts a device answering RTU requests on the serial port
// at path (a tty; in tests, one end of a pseudo-terminal pair whose other
// end the input opens). Stop and Start make it fall silent and answer
// again; Close closes the port.
func NewSerialServer(path string) (*Server, error) {
	s := &Server{framing: RTU, conns: make(map[net.Conn]struct{})}
	for i := range s.tables {
		s.tables[i] = make(map[uint16]uint16)
	}
	port, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("modbustest: open %s: %w", path, err)
	}
	if err := s.startBackend(); err != nil {
		port.Close()
		return nil, err
	}
	s.port, s.addr = port, path
	s.wg.Add(1)
	go s.relay(port)
	return s, nil
}

// Addr is the host:port the device listens on; it stays the same across
// Stop and Start.
func (s *Server) Addr() string { return s.addr }

// URL is the address as the modbus connector's url field wants it. For a
// serial device it names the device's own port: the input opens the other
// end of the pair.
func (s *Server) URL() string {
	return s.framing.String() + "://" + s.addr
}

// Requests is the number of read and write requests the device answered,
// exceptions included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// SetHolding sets holding registers from addr on.
func (s *Server) SetHolding(addr uint16, words ...uint16) { s.setWords(tHolding, addr, words) }

// SetInput sets input registers from addr on.
func (s *Server) SetInput(addr uint16, words ...uint16) { s.setWords(tInput, addr, words) }

// SetCoils sets coils from addr on.
func (s *Server) SetCoils(addr uint16, bits ...bool) { s.setBits(tCoil, addr, bits) }

// SetDiscrete sets discrete inputs from addr on.
func (s *Server) SetDiscrete(addr uint16, bits ...bool) { s.setBits(tDiscrete, addr, bits) }

// Unset removes n holding registers from addr on, so that reading them
// fails with "illegal data address".
func (s *Server) Unset(addr uint16, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		delete(s.tables[tHolding], addr+uint16(i))
	}
}

func (s *Server) setWords(t int, addr uint16, words []uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range words {
		s.tables[t][addr+uint16(i)] = w
	}
}

func (s *Server) setBits(t int, addr uint16, bits []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range bits {
		var w uint16
		if b {
			w = 1
		}
		s.tables[t][addr+uint16(i)] = w
	}
}

// GarbleNext makes the next n responses bad frames: with TCP framing the
// byte count of the response disagrees with its length, with RTU framing
// the CRC is wrong. The frame length stays right, so the stream stays in
// step.
func (s *Server) GarbleNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.garble += n
}

// Stop makes the device unreachable: it stops listening and drops every
// connection; on a serial port it stops answering. The values are kept.
func (s *Server) Stop() error {
	s.mu.Lock()
	if s.port != nil {
		s.silent = true
		s.mu.Unlock()
		return nil
	}
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

// Start brings a stopped device back on the same address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("modbustest: server closed")
	}
	if s.port != nil {
		s.silent = false
		return nil
	}
	if s.lis != nil {
		return nil
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("modbustest: listen again on %s: %w", s.addr, err)
	}
	s.lis = lis
	s.wg.Add(1)
	go s.accept(lis)
	return nil
}

// Close stops the device for good and waits for its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	port := s.port
	s.mu.Unlock()
	if port != nil {
		err := port.Close()
		s.wg.Wait()
		return errors.Join(err, s.backend.Stop())
	}
	err := s.Stop()
	return errors.Join(err, s.backend.Stop())
}

func (s *Server) accept(lis net.Listener) {
	defer s.wg.Done()
	for {
		c, err := lis.Accept()
		if err != nil {
			return // closed by Stop
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
		go s.relay(c)
	}
}

// relay passes the frames of one client connection to the library's server
// and back, converting RTU framing and garbling where asked.
func (s *Server) relay(c io.ReadWriteCloser) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		if conn, ok := c.(net.Conn); ok {
			delete(s.conns, conn)
		}
		s.mu.Unlock()
		c.Close()
	}()
	back, err := net.Dial("tcp", s.backURL[len("tcp://"):])
	if err != nil {
		return
	}
	defer back.Close()
	var backTxn uint16
	for {
		txn, unit, pdu, err := s.readRequest(c)
		if s.framing == RTU && errors.Is(err, errFrame) {
			continue // a slave on a serial line ignores a frame it cannot check
		}
		if err != nil {
			return
		}
		s.mu.Lock()
		silent := s.silent
		s.mu.Unlock()
		if silent {
			continue
		}
		backTxn++
		if err := writeMBAP(back, backTxn, unit, pdu); err != nil {
			return
		}
		_, unit, pdu, err = readMBAP(back)
		if err != nil {
			return
		}
		s.mu.Lock()
		bad := s.garble > 0
		if bad {
			s.garble--
		}
		s.mu.Unlock()
		if err := s.writeResponse(c, txn, unit, pdu, bad); err != nil {
			return
		}
	}
}

var errFrame = errors.New("modbustest: bad request frame")

// readRequest reads one request; txn is the client's transaction id (TCP
// framing only), which the response echoes.
func (s *Server) readRequest(c io.Reader) (txn uint16, unit byte, pdu []byte, err error) {
	if s.framing == TCP {
		return readMBAP(c)
	}
	// RTU requests for function codes 1 to 6 are 8 bytes: unit, function,
	// two 16-bit fields, CRC. The connector sends nothing else.
	var f [8]byte
	if _, err := io.ReadFull(c, f[:]); err != nil {
		return 0, 0, nil, err
	}
	if f[1] < 1 || f[1] > 6 || crc16(f[:6]) != binary.LittleEndian.Uint16(f[6:]) {
		return 0, 0, nil, errFrame
	}
	return 0, f[0], append([]byte(nil), f[1:6]...), nil
}

func (s *Server) writeResponse(c io.Writer, txn uint16, unit byte, pdu []byte, garble bool) error {
	if s.framing == TCP {
		if garble && len(pdu) > 1 && pdu[0] < 0x80 {
			pdu[1] ^= 0xff // the byte count of a read response
		}
		return writeMBAP(c, txn, unit, pdu)
	}
	frame := append([]byte{unit}, pdu...)
	crc := crc16(frame)
	if garble {
		crc ^= 0xffff
	}
	frame = binary.LittleEndian.AppendUint16(frame, crc)
	_, err := c.Write(frame)
	return err
}

func readMBAP(r io.Reader) (txn uint16, unit byte, pdu []byte, err error) {
	var h [7]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	if n < 2 || n > 254 || h[2] != 0 || h[3] != 0 {
		return 0, 0, nil, errFrame
	}
	pdu = make([]byte, n-1)
	if _, err := io.ReadFull(r, pdu); err != nil {
		return 0, 0, nil, err
	}
	return binary.BigEndian.Uint16(h[0:2]), h[6], pdu, nil
}

func writeMBAP(w io.Writer, txn uint16, unit byte, pdu []byte) error {
	f := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(f[0:2], txn)
	binary.BigEndian.PutUint16(f[4:6], uint16(len(pdu)+1))
	f[6] = unit
	_, err := w.Write(append(f, pdu...))
	return err
}

// crc16 is the Modbus RTU CRC (polynomial 0xA001, initial 0xFFFF).
func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, x := range b {
		crc ^= uint16(x)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xa001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
