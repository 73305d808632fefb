// Package tcpproxy is a TCP proxy for tests of inputs and for test servers:
// it forwards the connections it accepts to a target, can delay everything
// it forwards (a slow link: a radio link, a VPN to another site), and can
// cut every connection and refuse new ones (a link, or a server, that goes
// away) and come back on the same address.
//
// It imports no testing package, so test servers that the simulator also
// runs (opcuatest) can use it.
package tcpproxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards connections from its address to a target.
type Proxy struct {
	target  string
	addr    string
	latency atomic.Int64 // ns added to every byte, each way
	discard atomic.Bool  // what clients send is thrown away
	dropped atomic.Int64 // bytes thrown away

	mu     sync.Mutex // guards the fields below
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept loop and the forwarding goroutines
}

// Listen starts a proxy to target on an ephemeral port of 127.0.0.1.
func Listen(target string) (*Proxy, error) {
	return ListenOn("127.0.0.1:0", target)
}

// ListenOn starts a proxy to target on addr.
func ListenOn(addr, target string) (*Proxy, error) {
	p := &Proxy{target: target, addr: addr, conns: map[net.Conn]struct{}{}}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is the proxy's address, host:port; it stays the same across Stop
// and Start.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// SetLatency makes the proxy deliver every byte d after it arrived, in each
// direction, so a round trip through it takes 2d more. It applies to bytes
// that arrive from now on.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// DropToTarget makes the proxy read what clients send and throw it away
// (on) or forward it again (off), as if the target never got it: a server
// that died before it read a client's last packets (an acknowledgement).
// What the target sends still reaches the clients.
func (p *Proxy) DropToTarget(on bool) { p.discard.Store(on) }

// Dropped is how many bytes DropToTarget threw away.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// Start accepts connections again on the proxy's address after Stop.
func (p *Proxy) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("tcpproxy: closed")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.ln, p.addr = ln, ln.Addr().String()
	p.wg.Go(func() { p.accept(ln) })
	return nil
}

// Stop closes the listener and every connection (both sides), as a link
// that goes down: clients see their connection end and new ones refused.
func (p *Proxy) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stop()
}

// stop is Stop with p.mu held.
func (p *Proxy) stop() error {
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	return err
}

// Close stops the proxy for good and waits for its goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	err := p.stop()
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil { // the target is down: so is the link
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // stopped meanwhile
			p.mu.Unlock()
			client.Close()
			server.Close()
			continue
		}
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(server, client, &p.discard) })
		p.wg.Go(func() { p.forward(client, server, nil) })
	}
}

// chunk is what one read got, and when.
type chunk struct {
	data []byte
	at   time.Time
}

// forward copies from src to dst, each chunk after the latency, until
// either side fails; it then closes both. While drop is set (if not nil)
// what src sends is read and not forwarded.
func (p *Proxy) forward(dst, src net.Conn, drop *atomic.Bool) {
	defer p.drop(dst, src)
	chunks := make(chan chunk, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			switch {
			case n > 0 && drop != nil && drop.Load():
				p.dropped.Add(int64(n))
			case n > 0:
				chunks <- chunk{buf[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	})
	for c := range chunks {
		if d := time.Until(c.at.Add(time.Duration(p.latency.Load()))); d > 0 {
			time.Sleep(d) // the link's delay, not synchronisation
		}
		if _, err := dst.Write(c.data); err != nil {
			src.Close() // ends the reader
			for range chunks {
			}
			return
		}
	}
}

func (p *Proxy) drop(a, b net.Conn) {
	a.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, a)
	delete(p.conns, b)
	p.mu.Unlock()
}
