package faults

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// netMode is what the proxy does to the traffic between edge and hub.
type netMode int

const (
	pass        netMode = iota
	hang                // requests are read and never answered; the connection stays open
	resetMid            // a request is forwarded halfway, then both connections are reset (RST)
	resetAnswer         // the hub's answer is swallowed and the edge's connection reset
	slow                // both directions limited to bandwidth bytes/s in total
)

// proxy is a TCP proxy between edge and hub that understands just enough
// HTTP/1.1 (request headers and Content-Length) to find request boundaries,
// so it can inject faults at exact points of an uplink exchange. It listens
// on one address for its whole life, also across down/up.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	raw    bool // bytes only: no HTTP requests looked for, no faults but down

	mu        sync.Mutex // guards the fields below
	ln        net.Listener
	conns     map[*pconn]struct{}
	mode      netMode
	budget    int // resets left to inject in resetMid and resetAnswer
	bandwidth int // bytes/s in slow mode
	closed    bool

	pace [2]pacer // per direction: 0 edge→hub, 1 hub→edge

	// Counters of what the proxy saw and did.
	accepted     atomic.Int64
	requests     atomic.Int64 // requests forwarded completely
	answers      atomic.Int64 // answers that started to come back
	orphaned     atomic.Int64 // requests forwarded completely whose hub connection ended without an answer
	hung         atomic.Int64 // requests held unanswered
	midResets    atomic.Int64 // requests cut halfway with RST
	answerResets atomic.Int64 // answers swallowed with RST
	answers200   atomic.Int64 // of those, answers "200 OK": the hub had stored the batch
	slowBytes    atomic.Int64 // bytes forwarded while slow
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	return newProxy(t, target, false)
}

// startTCPProxy starts a proxy that forwards bytes as they come, without
// looking for HTTP requests (for NATS's routes and clients): down and up
// cut and heal the link.
func startTCPProxy(t *testing.T, target string) *proxy {
	t.Helper()
	return newProxy(t, target, true)
}

func newProxy(t *testing.T, target string, raw bool) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, raw: raw, conns: map[*pconn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.ln = ln
	go p.accept(ln)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "http://" + p.addr }

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		go p.serve(c.(*net.TCPConn))
	}
}

// down closes the listener (new connections are refused) and resets every
// open connection.
func (p *proxy) down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	conns := p.conns
	p.conns = map[*pconn]struct{}{}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range conns {
		c.reset()
	}
}

// isUp reports whether the proxy listens.
func (p *proxy) isUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln != nil
}

// up listens again on the same address.
func (p *proxy) up() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.accept(ln)
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.down()
}

func (p *proxy) setMode(m netMode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

// arm injects n resets of kind m (resetMid or resetAnswer) into the next
// requests, then passes traffic again.
func (p *proxy) arm(m netMode, n int) {
	p.mu.Lock()
	p.mode, p.budget = m, n
	p.mu.Unlock()
}

func (p *proxy) setSlow(bandwidth int) {
	p.mu.Lock()
	p.mode, p.bandwidth = slow, bandwidth
	p.mu.Unlock()
}

// take reports whether a fault of mode m is to be injected now, using up
// one of its budget.
func (p *proxy) take(m netMode) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode != m {
		return false
	}
	if m == resetMid || m == resetAnswer {
		if p.budget <= 0 {
			return false
		}
		if p.budget--; p.budget == 0 {
			p.mode = pass
		}
	}
	return true
}

func (p *proxy) currentMode() (netMode, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.bandwidth
}

// pacer spreads writes over time at a given bandwidth, shared by every
// connection in one direction.
type pacer struct {
	mu   sync.Mutex
	next time.Time
}

func (pc *pacer) wait(n, bandwidth int) {
	pc.mu.Lock()
	now := time.Now()
	if pc.next.Before(now) {
		pc.next = now
	}
	pc.next = pc.next.Add(time.Duration(float64(n) / float64(bandwidth) * float64(time.Second)))
	at := pc.next
	pc.mu.Unlock()
	time.Sleep(time.Until(at))
}

// pconn is one proxied connection.
type pconn struct {
	p              *proxy
	client, server *net.TCPConn
	once           sync.Once
	hung           atomic.Bool // requests on it are held unanswered
	awaiting       atomic.Bool // a request was forwarded completely and its answer has not started

	// Owned by the edge→hub pump: the request being forwarded.
	hdr      []byte
	bodyLeft int64 // body bytes of the current request not yet forwarded; -1: unknown length, pass through
	cutAt    int64 // with a resetMid armed for this request, body bytes to forward before the RST; -1 none
	sent     int64 // body bytes of the current request forwarded
}

func (p *proxy) serve(c *net.TCPConn) {
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		// The hub is down: the edge sees its connection reset.
		c.SetLinger(0)
		c.Close()
		return
	}
	pc := &pconn{p: p, client: c, server: s.(*net.TCPConn), cutAt: -1}
	if p.raw {
		pc.bodyLeft = -1 // pass everything through
	}
	p.mu.Lock()
	if p.closed || p.ln == nil {
		p.mu.Unlock()
		pc.reset()
		return
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	go pc.fromHub()
	pc.fromEdge()
}

// reset closes both sides with RST.
func (c *pconn) reset() {
	c.once.Do(func() {
		c.client.SetLinger(0)
		c.server.SetLinger(0)
		c.client.Close()
		c.server.Close()
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	})
}

// write forwards b in one direction, paced in slow mode.
func (c *pconn) write(dst *net.TCPConn, dir int, b []byte) error {
	for len(b) > 0 {
		n := len(b)
		m, bw := c.p.currentMode()
		if m == slow {
			n = min(n, max(bw/50, 256))
			c.p.pace[dir].wait(n, bw)
			c.p.slowBytes.Add(int64(n))
		}
		if _, err := dst.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

var headerEnd = []byte("\r\n\r\n")

// fromEdge forwards the edge's requests to the hub until either side
// closes, injecting hang and resetMid at request boundaries.
func (c *pconn) fromEdge() {
	defer c.reset()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 && !c.edgeBytes(buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// edgeBytes handles bytes from the edge; false means the connection is
// finished.
func (c *pconn) edgeBytes(b []byte) bool {
	for len(b) > 0 {
		if c.hung.Load() {
			return true // read and discarded: the edge waits for an answer that never comes
		}
		if c.bodyLeft < 0 {
			return c.write(c.server, 0, b) == nil
		}
		if c.bodyLeft == 0 {
			// Headers of the next request: hold them until complete.
			c.hdr = append(c.hdr, b...)
			i := bytes.Index(c.hdr, headerEnd)
			if i < 0 {
				return len(c.hdr) < 64<<10
			}
			head, rest := c.hdr[:i+len(headerEnd)], c.hdr[i+len(headerEnd):]
			b = append([]byte(nil), rest...)
			c.bodyLeft, c.sent, c.cutAt = contentLength(head), 0, -1
			if c.p.take(hang) {
				c.p.hung.Add(1)
				c.hung.Store(true)
				c.server.Close() // the hub never sees the request
				c.hdr = nil
				return true
			}
			if c.bodyLeft > 1 && c.p.take(resetMid) {
				c.cutAt = c.bodyLeft / 2
			}
			if err := c.write(c.server, 0, head); err != nil {
				return false
			}
			c.hdr = c.hdr[:0]
			if c.bodyLeft == 0 {
				c.awaiting.Store(true)
				c.p.requests.Add(1)
			}
			continue
		}
		n := min(int64(len(b)), c.bodyLeft)
		if c.cutAt >= 0 && c.sent+n > c.cutAt {
			if err := c.write(c.server, 0, b[:c.cutAt-c.sent]); err != nil {
				return false
			}
			time.Sleep(10 * time.Millisecond) // let the hub read the first half
			c.p.midResets.Add(1)
			c.reset()
			return false
		}
		if err := c.write(c.server, 0, b[:n]); err != nil {
			return false
		}
		c.sent += n
		c.bodyLeft -= n
		b = b[n:]
		if c.bodyLeft == 0 {
			c.awaiting.Store(true)
			c.p.requests.Add(1)
		}
	}
	return true
}

// contentLength reads Content-Length from request headers; -1 if absent
// (the request is then passed through without further tracking).
func contentLength(head []byte) int64 {
	for _, line := range strings.Split(string(head), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "content-length") {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil && n >= 0 {
				return n
			}
		}
	}
	if bytes.HasPrefix(head, []byte("GET ")) {
		return 0
	}
	return -1
}

// fromHub forwards the hub's answers to the edge, swallowing one with
// resetAnswer.
func (c *pconn) fromHub() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			if c.awaiting.Swap(false) {
				c.p.answers.Add(1)
				if c.p.take(resetAnswer) {
					c.p.answerResets.Add(1)
					if bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200")) {
						c.p.answers200.Add(1)
					}
					c.reset()
					return
				}
			}
			if !c.hung.Load() {
				if werr := c.write(c.client, 1, buf[:n]); werr != nil {
					c.reset()
					return
				}
			}
		}
		if err != nil {
			if c.awaiting.Load() && !errors.Is(err, net.ErrClosed) {
				c.p.orphaned.Add(1)
			}
			if !c.hung.Load() {
				c.reset()
			}
			return
		}
	}
}

// waitInflight waits, for at most limit, until a request has been forwarded
// to the hub completely and its answer has not started to come back. It
// reports whether it saw one.
func (p *proxy) waitInflight(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for c := range p.conns {
			if c.awaiting.Load() {
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
		time.Sleep(200 * time.Microsecond)
	}
	return false
}

// waitCounter waits, for at most limit, until c reaches want.
func waitCounter(c *atomic.Int64, want int64, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for c.Load() < want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
