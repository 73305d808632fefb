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
//
// With an own path (serve, see ingestconn.go) the listener accepts by
// itself: every connection goes to serve first, and mochi's Accept hands
// out only the connections serve passes on (handOff). shut then also
// waits for serve's goroutines.
type deviceListener struct {
	net.Listener // the socket

	mu     sync.Mutex // guards conns and closed
	conns  map[*deviceConn]struct{}
	closed bool

	serve  func(*deviceConn) // the own path; nil: mochi reads every connection
	handed chan net.Conn     // connections serve passed on to mochi
	done   chan struct{}     // closed by shut
	wg     sync.WaitGroup    // the accepting goroutine and serve's
}

func newDeviceListener(ln net.Listener) *deviceListener {
	return &deviceListener{Listener: ln, conns: map[*deviceConn]struct{}{}, handed: make(chan net.Conn), done: make(chan struct{})}
}

// start accepts connections for serve, each in a goroutine of its own,
// until shut.
func (l *deviceListener) start() {
	serve := l.serve
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := l.Listener.Accept()
			if err != nil {
				return // closed by shut (or the socket failed: nothing more to accept)
			}
			dc, ok := l.add(c)
			if !ok {
				return
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				serve(dc)
			}()
		}
	}()
}

// add keeps c as a connection handed out; false (and c closed) once shut.
func (l *deviceListener) add(c net.Conn) (*deviceConn, bool) {
	dc := &deviceConn{Conn: c, l: l, taken: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, false
	}
	l.conns[dc] = struct{}{}
	return dc, true
}

// handOff passes c to mochi, which reads it from its start (replayConn);
// false if the listener was shut meanwhile (c is then closed).
func (l *deviceListener) handOff(c net.Conn) bool {
	dc, ok := l.add(c)
	if !ok {
		return false
	}
	select {
	case l.handed <- dc:
		return true
	case <-l.done:
		dc.Close()
		return false
	}
}

// Accept hands out the next connection, or net.ErrClosed once shut.
func (l *deviceListener) Accept() (net.Conn, error) {
	if l.serve != nil {
		select {
		case c := <-l.handed:
			return c, nil
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc, ok := l.add(c)
	if !ok {
		return nil, net.ErrClosed
	}
	return dc, nil
}

// shut stops accepting and returns once every connection handed out was
// taken up by mochi (or serve); it then closes them all, so no session
// outlives it. disconnect runs in between: it may still tell the clients
// why they go.
func (l *deviceListener) shut(disconnect func()) error {
	l.mu.Lock()
	l.closed = true
	conns := make([]*deviceConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	close(l.done)
	for _, c := range conns {
		<-c.taken
	}
	disconnect()
	for _, c := range conns {
		c.Close()
	}
	l.wg.Wait()
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
// It also decides when what mochi writes is sent (ADR 0012):
//
//   - Acknowledgements wait for the data. The ingest hook queues a
//     publish's points for the outbox and calls hold instead of waiting, so
//     mochi reads the client's next publishes meanwhile; everything mochi
//     writes after a hold (the PUBACK first) stays in held until those
//     points are stored, and a writer goroutine sends it then, in order.
//     If the outbox refuses them, nothing held is sent and the connection
//     is closed: the device sends again after reconnecting.
//   - Writes go out in batches. mochi writes each packet with its own
//     write system call; here what it writes while its read loop processes
//     packets is kept in wbuf, and the loop's next Read (which comes once
//     mochi's read buffer is empty) sends it all in one write. A write
//     while the read loop waits in Read goes out at once; Close sends what
//     is kept before it closes.
type deviceConn struct {
	net.Conn
	l         *deviceListener
	takenOnce sync.Once
	taken     chan struct{} // closed at the first Read or at Close
	closeOnce sync.Once
	closeErr  error

	wmu     sync.Mutex // guards wbuf, held, writing, reading and werr
	wbuf    []byte     // written by mochi, not yet sent, nothing held
	held    []heldWrite
	writing bool          // the writer goroutine runs
	idle    chan struct{} // closed when the writer goroutine ends (drain)
	reading bool          // the read loop waits in Read
	werr    error         // why nothing more is sent; the next Read returns it

	// smu is held while bytes go to the connection, taken while wmu is
	// held: so writes reach the connection in the order wmu saw them.
	smu sync.Mutex
}

// heldWrite is data on its way to the outbox (nil: none) and what mochi
// wrote after it.
type heldWrite struct {
	st     *stored
	refuse func(error) // told when the outbox refuses st
	buf    []byte
}

// maxKept bounds wbuf: past it a write sends everything kept.
const maxKept = 64 << 10

// hold makes what mochi writes from now on wait until st is stored.
func (c *deviceConn) hold(st *stored, refuse func(error)) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.held) == 0 && len(c.wbuf) > 0 {
		// Written before: it goes first, without waiting.
		c.held = append(c.held, heldWrite{buf: c.wbuf})
		c.wbuf = nil
	}
	c.held = append(c.held, heldWrite{st: st, refuse: refuse})
	if !c.writing {
		c.writing = true
		go c.writeHeld()
	}
	if len(c.held) > maxHeld {
		// A client sends faster than the disk takes it: read no further
		// until its oldest data is stored (TCP then slows the client down).
		for _, h := range c.held {
			if h.st != nil {
				done := h.st.p.Done()
				c.wmu.Unlock()
				<-done
				c.wmu.Lock()
				break
			}
		}
	}
}

// maxHeld bounds the publishes of one connection on their way to disk.
const maxHeld = 1000

// writeHeld sends the held writes as their data is stored, until none is
// left. Once the outbox refuses data, nothing more is sent (the rest is
// settled, so that stored points are counted and their resends known) and
// the connection is closed.
func (c *deviceConn) writeHeld() {
	var out []byte
	for {
		c.wmu.Lock()
		if len(c.held) == 0 {
			c.writing = false
			if c.idle != nil {
				close(c.idle)
				c.idle = nil
			}
			c.wmu.Unlock()
			return
		}
		h := c.held[0]
		c.wmu.Unlock()
		if h.st != nil {
			<-h.st.p.Done()
		}
		c.wmu.Lock()
		// Take every write at the front whose data is stored; stop at data
		// still on its way, or refused.
		var failed error
		out = out[:0]
		for len(c.held) > 0 {
			n := c.held[0]
			if n.st != nil {
				if !isDone(n.st.p.Done()) {
					break
				}
				if err := n.st.settle(); err != nil {
					n.refuse(err)
					failed = err
					break
				}
			}
			out = append(out, n.buf...)
			c.held = c.held[1:]
		}
		send := c.werr == nil && len(out) > 0
		var rest []heldWrite
		if failed != nil {
			rest, c.held, c.werr = c.held[1:], nil, failed
		}
		if send {
			c.sendUnlock(out)
		} else {
			c.wmu.Unlock()
		}
		if failed != nil {
			for _, r := range rest {
				if r.st != nil {
					<-r.st.p.Done()
					_ = r.st.settle()
				}
			}
			c.Close()
		}
		if cap(out) > maxKept {
			out = nil
		}
	}
}

// drain waits until everything held was sent (or refused) and sends what
// is kept; it returns why nothing more may be sent, if so. The caller holds
// nothing more meanwhile.
func (c *deviceConn) drain() error {
	c.wmu.Lock()
	if c.writing {
		idle := make(chan struct{})
		c.idle = idle
		c.wmu.Unlock()
		<-idle
		c.wmu.Lock()
	}
	defer c.wmu.Unlock()
	return c.flushLocked()
}

// release forgets the connection without closing it: another deviceConn
// (handOff) takes it over.
func (c *deviceConn) release() {
	c.takenOnce.Do(func() { close(c.taken) })
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

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
	if c.werr != nil {
		// The connection failed, or data before this write was refused:
		// nothing may be sent any more, and the read loop ends at its next
		// Read. Report success all the same: mochi keeps a PUBACK whose
		// write failed and sends it when the device's session resumes, which
		// would acknowledge a message that may not be stored.
		c.wmu.Unlock()
		return len(p), nil
	}
	if len(c.held) > 0 {
		last := &c.held[len(c.held)-1]
		last.buf = append(last.buf, p...)
		c.wmu.Unlock()
		return len(p), nil
	}
	if c.reading || len(c.wbuf)+len(p) > maxKept {
		if c.flushLocked() != nil {
			c.wmu.Unlock()
			return len(p), nil // as above
		}
		c.sendUnlock(p)
		return len(p), nil
	}
	c.wbuf = append(c.wbuf, p...)
	c.wmu.Unlock()
	return len(p), nil
}

// sendUnlock sends b to the connection and unlocks c.wmu, which is held:
// the order of sends is taken under wmu, the write itself is done without
// it. A failed write is what nothing may be sent after (werr).
func (c *deviceConn) sendUnlock(b []byte) {
	c.smu.Lock()
	c.wmu.Unlock()
	_, err := c.Conn.Write(b)
	c.smu.Unlock()
	if err != nil {
		c.wmu.Lock()
		if c.werr == nil {
			c.werr = err
		}
		c.wmu.Unlock()
	}
}

// flushLocked sends wbuf; c.wmu is held.
func (c *deviceConn) flushLocked() error {
	if c.werr != nil || len(c.wbuf) == 0 {
		return c.werr
	}
	c.smu.Lock()
	_, err := c.Conn.Write(c.wbuf)
	c.smu.Unlock()
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > maxKept {
		c.wbuf = nil
	}
	c.werr = err
	return err
}

func (c *deviceConn) Close() error {
	c.takenOnce.Do(func() { close(c.taken) })
	// A device that does not read must not hold Close up (nor a write
	// under way).
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.wmu.Lock()
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
