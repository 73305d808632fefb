package edge

import (
	"errors"
	"net"
	"sync"
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
type deviceConn struct {
	net.Conn
	l         *deviceListener
	takenOnce sync.Once
	taken     chan struct{} // closed at the first Read or at Close
	closeOnce sync.Once
	closeErr  error
}

func (c *deviceConn) Read(p []byte) (int, error) {
	c.takenOnce.Do(func() { close(c.taken) })
	return c.Conn.Read(p)
}

func (c *deviceConn) Close() error {
	c.takenOnce.Do(func() { close(c.taken) })
	c.closeOnce.Do(func() {
		c.closeErr = c.Conn.Close()
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.closeErr
}
