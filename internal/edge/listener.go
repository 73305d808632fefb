package edge

import (
	"errors"
	"net"
	"sync"
	"time"
)

// deviceListener is the device socket as mochi sees it. It keeps the
// connections it handed out, so that Close can end every one of them in an
// order mochi's own shutdown does not manage:
//
//   - mochi counts a connection's goroutine (its ClientsWg) inside that
//     goroutine, so a connection accepted just before Close may be counted
//     while Close already waits (a data race, at worst a panic);
//   - a connection accepted after mochi marked its listener ended is
//     dropped without being closed, and its device waits for a CONNACK
//     until its own timeout;
//   - a connection still in its handshake is not among the clients mochi
//     disconnects, and keeps Close waiting for its read deadline.
//
// Close (shut) stops accepting, waits until every handed-out connection
// was taken up by mochi (its first Read, which comes after mochi counted
// it) and then closes them all.
type deviceListener struct {
	net.Listener // the socket

	mu     sync.Mutex // guards conns and closed
	conns  map[*deviceConn]struct{}
	closed bool
}

func newDeviceListener(ln net.Listener) *deviceListener {
	return &deviceListener{Listener: ln, conns: map[*deviceConn]struct{}{}}
}

// Accept hands out the next connection, or net.ErrClosed once shut.
func (l *deviceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc := &deviceConn{Conn: c, l: l, taken: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[dc] = struct{}{}
	return dc, nil
}

// shut stops accepting and returns once every connection handed out was
// taken up by mochi; it then closes them all, so no session outlives it.
// disconnect runs in between: it may still tell the clients why they go.
func (l *deviceListener) shut(disconnect func()) error {
	l.mu.Lock()
	l.closed = true
	conns := make([]*deviceConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	for _, c := range conns {
		<-c.taken
	}
	disconnect()
	for _, c := range conns {
		c.Close()
	}
	return err
}

// Close closes the socket; mochi calls it, after shut.
func (l *deviceListener) Close() error {
	if err := l.Listener.Close(); err != nil && !isClosed(err) {
		return err
	}
	return nil
}

func isClosed(err error) bool { return err != nil && errors.Is(err, net.ErrClosed) }

// deviceConn is a connection handed out by a deviceListener.
//
// It also writes what mochi sends in batches: mochi writes each PUBACK
// with its own write system call, which cost a fifth of the edge's CPU
// under load (ADR 0011). While mochi's read loop processes packets it has
// read, what it writes is kept in wbuf; the loop's next Read, which comes
// once mochi's read buffer is empty, first sends it all in one write. So
// the acknowledgements of every publish in one read go out together, in
// order, each after its publish was stored. A write while the read loop
// waits in Read (a message to a subscriber, a keep-alive answer) goes out
// at once, and Close sends what is kept before it closes.
type deviceConn struct {
	net.Conn
	l         *deviceListener
	takenOnce sync.Once
	taken     chan struct{} // closed at the first Read or at Close
	closeOnce sync.Once
	closeErr  error

	wmu     sync.Mutex // guards wbuf, reading and werr
	wbuf    []byte     // written by mochi, not yet sent
	reading bool       // the read loop waits in Read
	werr    error      // the error of sending wbuf, returned by the next Write
}

// maxKept bounds wbuf: past it a write sends everything kept.
const maxKept = 64 << 10

func (c *deviceConn) Read(p []byte) (int, error) {
	c.takenOnce.Do(func() { close(c.taken) })
	c.wmu.Lock()
	if err := c.flushLocked(); err != nil {
		c.wmu.Unlock()
		return 0, err
	}
	c.reading = true
	c.wmu.Unlock()
	n, err := c.Conn.Read(p)
	c.wmu.Lock()
	c.reading = false
	c.wmu.Unlock()
	return n, err
}

func (c *deviceConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if c.reading || len(c.wbuf)+len(p) > maxKept {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	c.wbuf = append(c.wbuf, p...)
	return len(p), nil
}

// flushLocked sends what is kept; c.wmu is held.
func (c *deviceConn) flushLocked() error {
	if c.werr != nil || len(c.wbuf) == 0 {
		return c.werr
	}
	_, err := c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > maxKept {
		c.wbuf = nil
	}
	c.werr = err
	return err
}

func (c *deviceConn) Close() error {
	c.takenOnce.Do(func() { close(c.taken) })
	c.wmu.Lock()
	// A device that does not read must not hold Close up.
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.flushLocked() // a connection that cannot send is closed anyway
	c.wmu.Unlock()
	c.closeOnce.Do(func() {
		c.closeErr = c.Conn.Close()
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.closeErr
}
