package memcachestore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/memcachestore"
)

// proxy is a TCP proxy in front of memcached that can turn into a black
// hole: it still accepts connections and reads requests, but nothing goes
// through in either direction, so clients hang until their own timeouts
// (the worst way a server can fail: no error, no reset, just silence).
type proxy struct {
	ln       net.Listener
	upstream string
	black    atomic.Bool
	accepted atomic.Int64
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// blackHole makes the proxy swallow everything, on open connections too.
func (p *proxy) blackHole() { p.black.Store(true) }

// heal makes new connections work again. Connections that swallowed
// anything stay dead: their byte streams are out of step.
func (p *proxy) heal() { p.black.Store(false) }

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		if !p.track(c) {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *proxy) serve(c net.Conn) {
	defer p.untrack(c)
	if p.black.Load() {
		_, _ = io.Copy(io.Discard, c) // accept, never answer
		return
	}
	u, err := net.Dial("tcp", p.upstream)
	if err != nil || !p.track(u) {
		return
	}
	defer p.untrack(u)
	var dead atomic.Bool // once anything was swallowed, swallow everything
	p.wg.Go(func() { p.pipe(c, u, &dead) })
	p.pipe(u, c, &dead)
}

// pipe copies src to dst until either fails, then closes both, which ends
// the other direction too.
func (p *proxy) pipe(dst, src net.Conn, dead *atomic.Bool) {
	defer func() { _, _ = dst.Close(), src.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.black.Load() {
				dead.Store(true)
			}
			if !dead.Load() {
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
}

// storeCalls calls each method of s once with ctx.
func storeCalls(s tmplcache.Store, key string) map[string]func(ctx context.Context) error {
	big := make([]byte, 3<<20) // chunked: several round trips
	return map[string]func(ctx context.Context) error{
		"get": func(ctx context.Context) error {
			_, err := s.Get(ctx, []string{key, key + ":2"})
			return err
		},
		"set": func(ctx context.Context) error {
			return s.Set(ctx, []tmplcache.Item{{Key: key, Value: big, TTL: time.Minute}})
		},
		"add": func(ctx context.Context) error {
			return s.Add(ctx, []tmplcache.Item{{Key: key + ":3", Value: []byte("v"), TTL: time.Minute}})
		},
		"delete": func(ctx context.Context) error { return s.Delete(ctx, []string{key, key + ":2"}) },
	}
}

func TestDoneContextFailsAtOnceWithoutCallingTheServer(t *testing.T) {
	t.Parallel()
	p := startProxy(t, memcachestore.ServerAddr(t))
	s := memcachestore.New(memcachestore.NewTestClient(t, p.addr()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range storeCalls(s, memcachestore.Namespace()) {
		require.ErrorIs(t, call(ctx), context.Canceled, name)
	}
	require.Zero(t, p.accepted.Load(), "no connection may be made for a call whose context is done")
}

func TestCallsReturnWhenTheirContextIsDone(t *testing.T) {
	t.Parallel()
	const deadline = 50 * time.Millisecond
	p := startProxy(t, memcachestore.ServerAddr(t))
	client := memcachestore.NewTestClient(t, p.addr())
	client.Timeout = time.Second // the client alone would hang this long
	s := memcachestore.New(client)
	p.blackHole()

	var wg sync.WaitGroup
	for name, call := range storeCalls(s, memcachestore.Namespace()) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := call(ctx)
			elapsed := time.Since(start)
			t.Logf("%s returned after %v: %v", name, elapsed, err)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: got %v, want an error wrapping context.DeadlineExceeded", name, err)
				return
			}
			if elapsed >= client.Timeout/2 {
				t.Errorf("%s took %v with a deadline of %v: it waited for the client", name, elapsed, deadline)
			}
		})
	}
	wg.Wait()
	// The abandoned client calls end by the client's timeout: none leaks.
	require.Eventually(t, func() bool { return memcachestore.Running(s) == 0 },
		5*client.Timeout, 10*time.Millisecond, "goroutines of abandoned calls must end")
}

// db is the data behind the fragments: a generation per key, bumped when the
// data changes.
type db struct {
	mu  sync.Mutex
	gen map[string]int
}

func (d *db) value(key string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fmt.Sprintf("%s@%d", key, d.gen[key])
}

func (d *db) bump(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen[key]++
}

func (d *db) fill(key string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return []byte(d.value(key)), nil }
}

// TestCacheRidesOutABlackHole runs a cache on a memcached that goes silent
// and comes back: no Fetch fails or waits much longer than the timeout, the
// breaker opens and closes again, and no invalidated entry comes back.
func TestCacheRidesOutABlackHole(t *testing.T) {
	t.Parallel()
	const (
		timeout  = 50 * time.Millisecond
		cooldown = 100 * time.Millisecond
		margin   = 100 * time.Millisecond
		workers  = 16
		rounds   = 30
	)
	p := startProxy(t, memcachestore.ServerAddr(t))
	client := memcachestore.NewTestClient(t, p.addr())
	// Far above the cache's timeout: only the store's use of ctx keeps
	// calls short.
	client.Timeout = 400 * time.Millisecond
	store := memcachestore.New(client)
	ns := memcachestore.Namespace()
	c := tmplcache.New(store, tmplcache.WithNamespace(ns),
		tmplcache.WithTimeout(timeout), tmplcache.WithBreaker(3, cooldown),
		tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
	// The same entries through a patient cache, for the steps that must
	// not time out when the machine is busy (-race, parallel packages).
	patient := tmplcache.New(store, tmplcache.WithNamespace(ns), tmplcache.WithTimeout(10*time.Second))
	ctx := context.Background()
	data := &db{gen: map[string]int{}}
	fetchFrom := func(c *tmplcache.Cache, key, tag string) (string, error) {
		v, err := c.Fetch(ctx, key, data.fill(key), tmplcache.Tags(tag))
		return string(v), err
	}
	fetch := func(key, tag string) (string, error) { return fetchFrom(c, key, tag) }
	workerKey := func(w, i int) (key, tag string) {
		return fmt.Sprintf("w%d-k%d", w, i%4), fmt.Sprintf("w%d", w)
	}

	// Before the outage: everything is stored; "before" is invalidated
	// now, "during" will be while the server is silent.
	for _, k := range []string{"before", "during"} {
		v, err := fetchFrom(patient, k, "tag-"+k)
		require.NoError(t, err)
		require.Equal(t, data.value(k), v)
		got, ok, err := c.Get(ctx, k)
		require.NoError(t, err)
		require.True(t, ok, "%q must be stored before the outage", k)
		require.Equal(t, v, string(got))
	}
	for w := range workers {
		for i := range 4 {
			key, tag := workerKey(w, i)
			_, err := fetchFrom(patient, key, tag)
			require.NoError(t, err)
		}
	}
	data.bump("before")
	require.NoError(t, patient.InvalidateTags(ctx, "tag-before"))

	p.blackHole()
	data.bump("during")
	require.Error(t, c.InvalidateTags(ctx, "tag-during"), "the server is silent: the invalidation cannot succeed")
	require.Positive(t, c.Stats().PendingTags)

	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond) // pace: span a few cooldowns
			defer tick.Stop()
			for i := range rounds {
				key, tag := workerKey(w, i)
				start := time.Now()
				v, err := fetch(key, tag)
				lat[w] = append(lat[w], time.Since(start))
				if err != nil || v != data.value(key) {
					t.Errorf("Fetch(%q) = %q, %v during the outage; want %q, nil", key, v, err, data.value(key))
				}
				<-tick.C
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	p50, p99, maxLat := all[len(all)/2], all[(len(all)*99+99)/100-1], all[len(all)-1]
	st := c.Stats()
	t.Logf("%d Fetches while black-holed: p50 %v, p99 %v, max %v (timeout %v); stats %+v",
		len(all), p50, p99, maxLat, timeout, st)
	require.LessOrEqual(t, p99, 2*timeout+margin, "p99 latency during the outage")
	require.Positive(t, st.Timeouts, "calls must have run out of time")
	require.Positive(t, st.BreakerOpens, "the breaker must open")
	require.Positive(t, st.ShortCircuits, "the open breaker must spare calls")
	require.True(t, st.BreakerOpen)
	require.Eventually(t, func() bool { return memcachestore.Running(store) == 0 },
		5*client.Timeout, 10*time.Millisecond, "goroutines of abandoned calls must end")

	p.heal()
	require.Eventually(t, func() bool {
		_, err := fetch(workerKey(0, 0))
		require.NoError(t, err)
		return !c.Stats().BreakerOpen
	}, 5*time.Second, 10*time.Millisecond, "the breaker must close once the server answers")
	require.Zero(t, c.Stats().PendingTags, "the failed invalidation must have been re-applied")

	for _, k := range []string{"before", "during"} {
		v, err := fetch(k, "tag-"+k)
		require.NoError(t, err)
		require.Equal(t, data.value(k), v, "%q was invalidated %s the outage: its old entry must not be served", k, k)
		// Entries are stored again (a busy machine may time a call out:
		// Fetch again until one stores).
		require.Eventually(t, func() bool {
			v, err := fetch(k, "tag-"+k)
			require.NoError(t, err)
			require.Equal(t, data.value(k), v)
			got, ok, _ := c.Get(ctx, k)
			return ok && string(got) == data.value(k)
		}, 5*time.Second, 10*time.Millisecond, "after the outage, %q must be stored again", k)
	}
}
