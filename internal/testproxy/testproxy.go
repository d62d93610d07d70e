// Package testproxy is a TCP proxy on loopback that tests use to cut, block
// and heal connections between components.
package testproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections from its listener to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	blocked bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	faults  faults // see faults.go
}

// New starts a proxy to target on a free loopback port; it stops at the end
// of the test.
func New(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's address as an http URL.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Cut closes every open connection; new ones are still accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Block cuts every connection and refuses new ones until Heal.
func (p *Proxy) Block() {
	p.mu.Lock()
	p.blocked = true
	p.mu.Unlock()
	p.Cut()
}

// Heal accepts connections again after Block.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, up)
	}
}

func (p *Proxy) track(down, up net.Conn) {
	p.mu.Lock()
	p.conns[down] = struct{}{}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn, r io.Reader) {
		defer p.wg.Done()
		io.Copy(dst, r)
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}
	p.wg.Add(2)
	go pipe(up, down, down)
	go pipe(down, up, p.faults.wrap(up))
}
