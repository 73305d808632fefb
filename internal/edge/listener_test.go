package edge

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// scriptConn is a net.Conn whose reads come from a channel (entered is
// told when a Read starts waiting) and whose writes are recorded one by
// one.
type scriptConn struct {
	net.Conn
	reads   chan []byte
	entered chan struct{}
	writes  [][]byte
}

func (c *scriptConn) Read(p []byte) (int, error) {
	c.entered <- struct{}{}
	b, ok := <-c.reads
	if !ok {
		return 0, net.ErrClosed
	}
	return copy(p, b), nil
}

func (c *scriptConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// TestDeviceConnBatchesWrites checks that what mochi writes while it
// processes what it read goes out in one write, in order, before the next
// read waits; and that a write while the read loop waits goes out at once.
func TestDeviceConnBatchesWrites(t *testing.T) {
	sc := &scriptConn{reads: make(chan []byte, 1), entered: make(chan struct{}, 1)}
	l := newDeviceListener(nil)
	c := &deviceConn{Conn: sc, l: l, taken: make(chan struct{})}
	l.conns[c] = struct{}{}

	sc.reads <- []byte("three publishes")
	buf := make([]byte, 64)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	<-sc.entered
	for _, ack := range []string{"ack1", "ack2", "ack3"} {
		if _, err := c.Write([]byte(ack)); err != nil {
			t.Fatal(err)
		}
	}
	if len(sc.writes) != 0 {
		t.Fatalf("writes before the next read: %q, want them kept", sc.writes)
	}
	done := make(chan error)
	go func() {
		_, err := c.Read(buf)
		done <- err
	}()
	<-sc.entered // the second Read waits now
	if got, want := sc.writes, [][]byte{[]byte("ack1ack2ack3")}; len(got) != 1 || !bytes.Equal(got[0], want[0]) {
		t.Fatalf("writes once the read loop waits: %q, want %q", got, want)
	}
	if _, err := c.Write([]byte("pingresp")); err != nil {
		t.Fatal(err)
	}
	if got := sc.writes; len(got) != 2 || string(got[1]) != "pingresp" {
		t.Fatalf("a write while the read loop waits: writes %q, want it sent at once", got)
	}
	close(sc.reads)
	if err := <-done; err == nil {
		t.Fatal("read of a closed connection: no error")
	}
	if _, err := c.Write([]byte("disconnect")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sc.writes; len(got) != 3 || string(got[2]) != "disconnect" {
		t.Fatalf("writes after Close: %q, want what was kept sent", got)
	}
}
