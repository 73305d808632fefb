package mqttwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// publish is a PUBLISH of MQTT 3.1.1 as a device sends it.
func publish(topic, payload string, qos byte, id uint16) []byte {
	body := []byte{byte(len(topic) >> 8), byte(len(topic))}
	body = append(body, topic...)
	if qos > 0 {
		body = append(body, byte(id>>8), byte(id))
	}
	body = append(body, payload...)
	return frame(Publish<<4|qos<<1, body)
}

func frame(h byte, body []byte) []byte {
	return AppendPacket(nil, Packet{Type: h >> 4, Flags: h & 0x0f, Body: body})
}

func connect(id, user, pass string, keepAlive uint16) []byte {
	flags := byte(FlagCleanSession)
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0, byte(keepAlive >> 8), byte(keepAlive)}
	body = append(body, byte(len(id)>>8), byte(len(id)))
	body = append(body, id...)
	if user != "" {
		flags |= FlagUsername
		body = append(body, byte(len(user)>>8), byte(len(user)))
		body = append(body, user...)
	}
	if pass != "" {
		flags |= FlagPassword
		body = append(body, byte(len(pass)>>8), byte(len(pass)))
		body = append(body, pass...)
	}
	body[7] = flags
	return frame(Connect<<4, body)
}

func TestReadAStream(t *testing.T) {
	var in []byte
	in = append(in, connect("press-1", "press-1", "secret", 30)...)
	in = append(in, publish("site/area/line/press/temp", `{"value":21.5}`, 1, 7)...)
	in = append(in, publish("site/a", strings.Repeat("x", 300), 0, 0)...) // larger than the buffer
	in = append(in, Pingreq<<4, 0, Disconnect<<4, 0)
	r := NewReader(bufio.NewReaderSize(bytes.NewReader(in), 64), 1<<20)

	pk, err := r.Next()
	if err != nil || pk.Type != Connect {
		t.Fatalf("first packet: type %d, %v", pk.Type, err)
	}
	c, err := ParseConnect(pk.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(c.ClientID)+" "+string(c.Username)+" "+string(c.Password), "press-1 press-1 secret"; got != want || c.KeepAlive != 30 || c.Level != 4 {
		t.Errorf("CONNECT: got %q keep-alive %d level %d, want %q 30 4", got, c.KeepAlive, c.Level, want)
	}
	pk, err = r.Next()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublish(pk.Flags, pk.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Topic) != "site/area/line/press/temp" || string(p.Payload) != `{"value":21.5}` || p.QoS != 1 || p.PacketID != 7 {
		t.Errorf("PUBLISH: got %+v", p)
	}
	pk, err = r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if p, err = ParsePublish(pk.Flags, pk.Body); err != nil || len(p.Payload) != 300 || p.QoS != 0 {
		t.Errorf("large PUBLISH: %d bytes, QoS %d, %v", len(p.Payload), p.QoS, err)
	}
	for _, want := range []byte{Pingreq, Disconnect} {
		if pk, err = r.Next(); err != nil || pk.Type != want || len(pk.Body) != 0 {
			t.Errorf("got type %d (%d bytes), %v; want %d", pk.Type, len(pk.Body), err, want)
		}
	}
	if _, err = r.Next(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}

func TestBadPackets(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"length of five bytes", []byte{Publish << 4, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrMalformed},
		{"too large", frame(Publish<<4, make([]byte, 2000)), ErrTooLarge},
		{"cut short", publish("a/b", "1", 1, 1)[:6], io.ErrUnexpectedEOF},
		{"topic longer than the packet", frame(Publish<<4, []byte{0, 9, 'a'}), ErrMalformed},
		{"QoS 1 without an identifier", frame(Publish<<4|2, []byte{0, 1, 'a'}), ErrMalformed},
		{"identifier 0", frame(Publish<<4|2, []byte{0, 1, 'a', 0, 0}), ErrMalformed},
		{"QoS 3", frame(Publish<<4|6, []byte{0, 1, 'a', 0, 1}), ErrMalformed},
		{"CONNECT with the reserved flag", func() []byte { b := connect("c", "", "", 0); b[9] |= 1; return b }(), ErrMalformed},
		{"CONNECT with bytes after its payload", append(connect("c", "", "", 0)[:1:1], frame(0, append(connect("c", "", "", 0)[2:], 'x'))[1:]...), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readAll(tc.in, 1024)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// readAll reads and decodes every packet of in; it returns why it stopped
// (nil at the end of in).
func readAll(in []byte, max int) error {
	r := NewReader(bufio.NewReaderSize(bytes.NewReader(in), 256), max)
	for {
		pk, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch pk.Type {
		case Connect:
			if _, err := ParseConnect(pk.Body); err != nil && !errors.Is(err, ErrVersion) {
				return err
			}
		case Publish:
			if _, err := ParsePublish(pk.Flags, pk.Body); err != nil {
				return err
			}
		}
	}
}

// FuzzReader feeds streams of packets to the reader: it never panics, and
// every PUBLISH it decodes, mochi-mqtt's decoder (the listener's) decodes
// the same.
func FuzzReader(f *testing.F) {
	f.Add(connect("press-1", "press-1", "secret", 30))
	f.Add(publish("site/area/line/press/temp", `{"value":21.5,"ts":1700000000000}`, 1, 7))
	f.Add(publish("site/a", "1", 0, 0))
	f.Add([]byte{Pingreq << 4, 0, Disconnect << 4, 0})
	f.Add([]byte{Publish << 4, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = readAll(in, 4096)
		r := NewReader(bufio.NewReaderSize(bytes.NewReader(in), 64), 4096)
		for {
			pk, err := r.Next()
			if err != nil {
				return
			}
			if pk.Type != Publish {
				continue
			}
			p, err := ParsePublish(pk.Flags, pk.Body)
			if err != nil {
				continue
			}
			var m packets.Packet
			m.ProtocolVersion = 4
			if m.FixedHeader.Decode(pk.Type<<4|pk.Flags) != nil {
				continue
			}
			m.FixedHeader.Remaining = len(pk.Body)
			if m.PublishDecode(append([]byte(nil), pk.Body...)) != nil {
				continue
			}
			if m.TopicName != string(p.Topic) || !bytes.Equal(m.Payload, p.Payload) || m.PacketID != p.PacketID || m.FixedHeader.Qos != p.QoS {
				t.Fatalf("ours: topic %q id %d QoS %d payload %q; mochi's: topic %q id %d QoS %d payload %q",
					p.Topic, p.PacketID, p.QoS, p.Payload, m.TopicName, m.PacketID, m.FixedHeader.Qos, m.Payload)
			}
		}
	})
}

// BenchmarkReadPublish reads a stream of QoS 1 PUBLISH packets of a
// device: two values as JSON, as the edge's bench sends.
func BenchmarkReadPublish(b *testing.B) {
	one := publish("bench/site/area/line/dev-17/tags", `{"t0":{"value":21.53,"q":"good"},"t1":42}`, 1, 1)
	stream := bytes.Repeat(one, 1000)
	src := bytes.NewReader(stream)
	br := bufio.NewReaderSize(src, 32<<10)
	r := NewReader(br, 1<<20)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			src.Reset(stream)
			br.Reset(src)
			r = NewReader(br, 1<<20)
		}
		pk, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParsePublish(pk.Flags, pk.Body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadPublishMochi is the same with mochi-mqtt's decoder as the
// listener uses it (a fixed header, then the packet's body copied).
func BenchmarkReadPublishMochi(b *testing.B) {
	one := publish("bench/site/area/line/dev-17/tags", `{"t0":{"value":21.53,"q":"good"},"t1":42}`, 1, 1)
	stream := bytes.Repeat(one, 1000)
	src := bytes.NewReader(stream)
	br := bufio.NewReaderSize(src, 32<<10)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			src.Reset(stream)
			br.Reset(src)
		}
		h, _ := br.ReadByte()
		var fh packets.FixedHeader
		if err := fh.Decode(h); err != nil {
			b.Fatal(err)
		}
		n, _, err := packets.DecodeLength(br)
		if err != nil {
			b.Fatal(err)
		}
		fh.Remaining = n
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatal(err)
		}
		pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 4}
		if err := pk.PublishDecode(body); err != nil {
			b.Fatal(err)
		}
	}
}
