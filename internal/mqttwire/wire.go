package mqttwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Packet types (MQTT 3.1.1 section 2.2.1).
const (
	Connect     = 1
	Connack     = 2
	Publish     = 3
	Puback      = 4
	Pubrec      = 5
	Pubrel      = 6
	Pubcomp     = 7
	Subscribe   = 8
	Suback      = 9
	Unsubscribe = 10
	Unsuback    = 11
	Pingreq     = 12
	Pingresp    = 13
	Disconnect  = 14
)

// ErrMalformed is why a packet could not be decoded; the errors returned
// wrap it with what was wrong.
var ErrMalformed = errors.New("malformed MQTT packet")

// ErrTooLarge is returned for a packet longer than the Reader's maximum.
var ErrTooLarge = errors.New("MQTT packet too large")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Packet is one packet as read: its type, the flags of its fixed header and
// its body (variable header and payload). Body is valid until the next
// Reader.Next.
type Packet struct {
	Type  byte
	Flags byte
	Body  []byte
}

// Reader reads packets from a buffered reader.
type Reader struct {
	r       *bufio.Reader
	max     int
	scratch []byte // the body of a packet larger than r's buffer
	pending int    // bytes of the last packet still in r's buffer
}

// NewReader reads packets of at most max bytes of body from r.
func NewReader(r *bufio.Reader, max int) *Reader {
	return &Reader{r: r, max: max}
}

// Buffered reports whether a packet (or part of one) is already buffered:
// the next Next reads from the connection only if not.
func (r *Reader) Buffered() bool { return r.r.Buffered() > r.pending }

// Rest returns what is buffered after the last packet returned, and
// consumes it: for whoever reads the stream on.
func (r *Reader) Rest() []byte {
	if r.pending > 0 {
		_, _ = r.r.Discard(r.pending)
		r.pending = 0
	}
	b, _ := r.r.Peek(r.r.Buffered())
	b = append([]byte(nil), b...)
	_, _ = r.r.Discard(len(b))
	return b
}

// Next returns the next packet. An error ends the stream: io.EOF at a
// packet boundary, io.ErrUnexpectedEOF inside one, ErrMalformed or
// ErrTooLarge (wrapped) for a packet that cannot be read.
func (r *Reader) Next() (Packet, error) {
	if r.pending > 0 {
		_, _ = r.r.Discard(r.pending) // buffered: cannot fail
		r.pending = 0
	}
	h, err := r.r.ReadByte()
	if err != nil {
		return Packet{}, err
	}
	n, err := r.length()
	if err != nil {
		return Packet{}, err
	}
	if n > r.max {
		return Packet{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, r.max)
	}
	pk := Packet{Type: h >> 4, Flags: h & 0x0f}
	if n <= r.r.Size() {
		b, err := r.r.Peek(n)
		if err != nil {
			return Packet{}, unexpected(err)
		}
		pk.Body, r.pending = b, n
		return pk, nil
	}
	if cap(r.scratch) < n {
		r.scratch = make([]byte, n)
	}
	pk.Body = r.scratch[:n]
	if _, err := io.ReadFull(r.r, pk.Body); err != nil {
		return Packet{}, unexpected(err)
	}
	return pk, nil
}

// length reads the remaining length (section 2.2.3): at most four bytes.
func (r *Reader) length() (int, error) {
	n, shift := 0, 0
	for i := 0; i < 4; i++ {
		b, err := r.r.ReadByte()
		if err != nil {
			return 0, unexpected(err)
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
		shift += 7
	}
	return 0, malformed("remaining length longer than four bytes")
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ConnectPacket is a decoded CONNECT; its slices point into the packet's
// body.
type ConnectPacket struct {
	ProtocolName []byte
	Level        byte // 4 for MQTT 3.1.1, 5 for MQTT 5, 3 for MQIsdp
	Flags        byte
	KeepAlive    uint16
	ClientID     []byte
	WillTopic    []byte
	WillMessage  []byte
	Username     []byte
	Password     []byte
}

// CONNECT flags (section 3.1.2.3).
const (
	FlagCleanSession = 0x02
	FlagWill         = 0x04
	FlagWillRetain   = 0x20
	FlagPassword     = 0x40
	FlagUsername     = 0x80
)

// ParseConnect decodes the body of a CONNECT of MQTT 3.1.1 (or 3.1). An
// MQTT 5 CONNECT is reported by its Level with nothing else decoded
// (ErrVersion): its properties are not read here.
func ParseConnect(body []byte) (ConnectPacket, error) {
	var c ConnectPacket
	var err error
	if c.ProtocolName, body, err = field(body, "protocol name"); err != nil {
		return c, err
	}
	if len(body) < 4 {
		return c, malformed("CONNECT: variable header cut short")
	}
	c.Level, c.Flags = body[0], body[1]
	c.KeepAlive = uint16(body[2])<<8 | uint16(body[3])
	body = body[4:]
	if c.Level >= 5 {
		return c, ErrVersion
	}
	if c.Flags&0x01 != 0 {
		return c, malformed("CONNECT: reserved flag set")
	}
	if c.ClientID, body, err = field(body, "client identifier"); err != nil {
		return c, err
	}
	if c.Flags&FlagWill != 0 {
		if c.WillTopic, body, err = field(body, "will topic"); err != nil {
			return c, err
		}
		if c.WillMessage, body, err = field(body, "will message"); err != nil {
			return c, err
		}
	}
	if c.Flags&FlagUsername != 0 {
		if c.Username, body, err = field(body, "user name"); err != nil {
			return c, err
		}
	}
	if c.Flags&FlagPassword != 0 {
		if c.Password, body, err = field(body, "password"); err != nil {
			return c, err
		}
	}
	if len(body) != 0 {
		return c, malformed("CONNECT: %d bytes after its payload", len(body))
	}
	return c, nil
}

// ErrVersion is returned by ParseConnect for a CONNECT of MQTT 5.
var ErrVersion = errors.New("MQTT 5 CONNECT")

// PublishPacket is a decoded PUBLISH of MQTT 3.1.1; its slices point into
// the packet's body.
type PublishPacket struct {
	QoS      byte
	Retain   bool
	Dup      bool
	Topic    []byte
	PacketID uint16 // QoS 1 and 2 only
	Payload  []byte
}

// ParsePublish decodes the body of a PUBLISH with the flags of its fixed
// header (MQTT 3.1.1 section 3.3). The topic is not checked beyond its
// length: what a topic may hold is the caller's to decide.
func ParsePublish(flags byte, body []byte) (PublishPacket, error) {
	p := PublishPacket{QoS: flags >> 1 & 0x03, Retain: flags&0x01 != 0, Dup: flags&0x08 != 0}
	if p.QoS == 3 {
		return p, malformed("PUBLISH: QoS 3")
	}
	var err error
	if p.Topic, body, err = field(body, "PUBLISH topic"); err != nil {
		return p, err
	}
	if p.QoS > 0 {
		if len(body) < 2 {
			return p, malformed("PUBLISH: packet identifier cut short")
		}
		p.PacketID = uint16(body[0])<<8 | uint16(body[1])
		if p.PacketID == 0 {
			return p, malformed("PUBLISH: packet identifier 0")
		}
		body = body[2:]
	}
	p.Payload = body
	return p, nil
}

// field reads a length-prefixed field (section 1.5.3).
func field(b []byte, what string) (f, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, malformed("%s: length cut short", what)
	}
	n := int(b[0])<<8 | int(b[1])
	if len(b)-2 < n {
		return nil, nil, malformed("%s: %d bytes announced, %d left", what, n, len(b)-2)
	}
	return b[2 : 2+n], b[2+n:], nil
}

// CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3).
const (
	ConnackAccepted = 0x00
)

// AppendConnack appends a CONNACK with return code code and no session
// present.
func AppendConnack(b []byte, code byte) []byte {
	return append(b, Connack<<4, 2, 0, code)
}

// AppendPuback appends a PUBACK for packet id.
func AppendPuback(b []byte, id uint16) []byte {
	return append(b, Puback<<4, 2, byte(id>>8), byte(id))
}

// AppendPingresp appends a PINGRESP.
func AppendPingresp(b []byte) []byte {
	return append(b, Pingresp<<4, 0)
}

// AppendPacket appends pk as it is sent (its remaining length in the
// shortest form).
func AppendPacket(b []byte, pk Packet) []byte {
	b = append(b, pk.Type<<4|pk.Flags)
	n := len(pk.Body)
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			break
		}
	}
	return append(b, pk.Body...)
}
