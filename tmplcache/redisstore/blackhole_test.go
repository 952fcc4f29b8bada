package redisstore

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// proxy is a TCP proxy in front of a server that can be switched to a
// black hole: it keeps accepting connections and reading requests, and
// never answers, like a server that hangs or a network that drops packets.
// With no upstream it is a black hole from the start.
type proxy struct {
	ln   net.Listener
	dial func() (net.Conn, error)

	mu    sync.Mutex
	down  bool
	pairs map[net.Conn]net.Conn // client side → upstream side (nil when held)
	wg    sync.WaitGroup
}

func newProxy(t testing.TB, dial func() (net.Conn, error)) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, dial: dial, down: dial == nil, pairs: map[net.Conn]net.Conn{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.pairs[c] = nil
			p.wg.Go(func() { p.drain(c) })
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		up, err := p.dial()
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.down { // blackholed while dialling
			_ = up.Close()
			p.pairs[c] = nil
			p.wg.Go(func() { p.drain(c) })
			p.mu.Unlock()
			continue
		}
		p.pairs[c] = up
		p.mu.Unlock()
		p.wg.Go(func() {
			_, _ = io.Copy(up, c)
			if !p.held(c) {
				p.drop(c)
				return
			}
			p.drain(c)
		})
		p.wg.Go(func() {
			_, _ = io.Copy(c, up)
			if !p.held(c) {
				p.drop(c)
			}
		})
	}
}

// drain reads and discards what a held client sends, until it is closed.
func (p *proxy) drain(c net.Conn) {
	_, _ = io.Copy(io.Discard, c)
}

func (p *proxy) held(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	up, ok := p.pairs[c]
	return ok && up == nil
}

func (p *proxy) drop(c net.Conn) {
	p.mu.Lock()
	up := p.pairs[c]
	delete(p.pairs, c)
	p.mu.Unlock()
	_ = c.Close()
	if up != nil {
		_ = up.Close()
	}
}

// blackhole stops every answer: live connections fall silent (their
// upstream is cut, their requests are swallowed) and new ones are accepted
// and held.
func (p *proxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c, up := range p.pairs {
		if up != nil {
			p.pairs[c] = nil
			_ = up.Close()
		}
	}
}

// restore proxies new connections again and closes the held ones, as a
// network that comes back resets the connections that timed out.
func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	for c, up := range p.pairs {
		if up == nil {
			delete(p.pairs, c)
			_ = c.Close()
		}
	}
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c, up := range p.pairs {
		_ = c.Close()
		if up != nil {
			_ = up.Close()
		}
	}
	p.pairs = map[net.Conn]net.Conn{}
	p.mu.Unlock()
	p.wg.Wait()
}
