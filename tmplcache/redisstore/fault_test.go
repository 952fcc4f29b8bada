package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Fault settings: small, so an outage and a recovery fit in a second or two.
const (
	faultTimeout  = 50 * time.Millisecond
	faultFailures = 3
	faultCooldown = 200 * time.Millisecond
	// A render may wait for one store call that times out, and for a second
	// one that was sent before the breaker opened; beyond that it is a bug.
	faultP99Bound = 2*faultTimeout + 50*time.Millisecond
	// go-redis's own read timeout in these tests: a call that lasts this
	// long was not ended by its context.
	faultReadTimeout = 5 * time.Second
)

func faultCache(t *testing.T, s tmplcache.Store, ns string) *tmplcache.Cache {
	return tmplcache.New(s, tmplcache.WithNamespace(ns), testLogger(t),
		tmplcache.WithTimeout(faultTimeout), tmplcache.WithBreaker(faultFailures, faultCooldown))
}

// testLogger sends the cache's log to the test's output.
func testLogger(t *testing.T) tmplcache.Option {
	return tmplcache.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil)))
}

// outlast keeps an outage going until the open breaker has let two trial
// calls through and seen them fail: the half-open state is exercised too.
// Calls sent before the breaker opened end within the timeout; after that,
// only trials reach the store.
func outlast(t *testing.T, c *tmplcache.Cache, r *renders) {
	t.Helper()
	opened := time.Now()
	require.Eventually(t, func() bool { return time.Since(opened) > 2*faultTimeout }, time.Second, time.Millisecond)
	errs := c.Stats().StoreErrors
	require.Eventually(t, func() bool { return c.Stats().StoreErrors >= errs+2 }, 10*time.Second, time.Millisecond,
		"the breaker must try the store again after each cooldown")
	r.waitForMore(t, 100, "renders during the outage")
}

// renders is a site under load: goroutines rendering pages through
// Cache.Fetch, each page's fill producing a value known in advance.
type renders struct {
	stop chan struct{}
	wg   sync.WaitGroup
	done atomic.Int64

	mu       sync.Mutex
	samples  []sample
	failures []string
}

type sample struct {
	at time.Time
	d  time.Duration
}

func startRenders(t *testing.T, c *tmplcache.Cache, workers int) *renders {
	r := &renders{stop: make(chan struct{})}
	for w := range workers {
		r.wg.Go(func() {
			var samples []sample
			var failures []string
			defer func() {
				r.mu.Lock()
				r.samples = append(r.samples, samples...)
				r.failures = append(r.failures, failures...)
				r.mu.Unlock()
			}()
			tick := time.NewTicker(2 * time.Millisecond) // pacing, not synchronisation
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-r.stop:
					return
				case <-tick.C:
				}
				key := fmt.Sprintf("page-%d-%d", w, i%4)
				want := "rendered " + key
				start := time.Now()
				v, err := c.Fetch(context.Background(), key, fillWith(want), tmplcache.Tags("page", key))
				samples = append(samples, sample{start, time.Since(start)})
				if err != nil || string(v) != want {
					failures = append(failures, fmt.Sprintf("%s: %q, %v", key, v, err))
				}
				r.done.Add(1)
			}
		})
	}
	t.Cleanup(func() { r.finish() })
	return r
}

// waitForMore waits until n more renders have run.
func (r *renders) waitForMore(t *testing.T, n int64, what string) {
	t.Helper()
	target := r.done.Load() + n
	require.Eventually(t, func() bool { return r.done.Load() >= target }, 10*time.Second, time.Millisecond, what)
}

func (r *renders) finish() ([]sample, []string) {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samples, r.failures
}

type latency struct {
	n             int
	p50, p99, max time.Duration
}

func latencies(samples []sample, from, to time.Time) latency {
	var ds []time.Duration
	for _, s := range samples {
		if !s.at.Before(from) && s.at.Before(to) {
			ds = append(ds, s.d)
		}
	}
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	return latency{n: len(ds), p50: at(0.50), p99: at(0.99), max: ds[len(ds)-1]}
}

func (l latency) String() string {
	return fmt.Sprintf("%d renders: p50 %v, p99 %v, max %v", l.n, l.p50, l.p99, l.max)
}

// checkRenders stops the renders and checks what they saw.
func checkRenders(t *testing.T, r *renders, outageStart, outageEnd time.Time) {
	t.Helper()
	samples, failures := r.finish()
	require.Empty(t, failures, "a store outage must never fail a render")
	all := latencies(samples, time.Time{}, time.Now().Add(time.Hour))
	outage := latencies(samples, outageStart, outageEnd)
	t.Logf("latency, whole run: %v", all)
	t.Logf("latency, during the outage (%v): %v", outageEnd.Sub(outageStart).Round(time.Millisecond), outage)
	require.NotZero(t, outage.n, "no render ran during the outage")
	require.LessOrEqual(t, all.p99, faultP99Bound, "p99 with WithTimeout(%v)", faultTimeout)
	require.Less(t, all.max, faultReadTimeout/2, "a render waited for go-redis's own timeout, not for the cache's")
}

func requireMiss(t *testing.T, c *tmplcache.Cache, key, why string) {
	t.Helper()
	v, ok, err := c.Get(testCtx(t), key)
	require.NoError(t, err)
	require.False(t, ok, "%s served %q: %s", key, v, why)
}

func requireHit(t *testing.T, c *tmplcache.Cache, key string) {
	t.Helper()
	_, ok, err := c.Get(testCtx(t), key)
	require.NoError(t, err)
	require.True(t, ok, key)
}

func rawGet(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	v, err := s.Get(testCtx(t), []string{key})
	require.NoError(t, err)
	return slices.Clone(v[0])
}

// A server that hangs (accepts, never answers) for a while, then comes
// back with its data intact.
func TestFaultServerHangs(t *testing.T) {
	srv := startOwnServer(t)
	px := newProxy(t, srv.dial)
	// go-redis as users leave it: ContextTimeoutEnabled off.
	client := redis.NewClient(&redis.Options{Addr: px.addr(), ReadTimeout: faultReadTimeout, WriteTimeout: faultReadTimeout})
	t.Cleanup(func() { _ = client.Close() })
	s := New(client)
	ns := namespace(t, client)
	cache := faultCache(t, s, ns)
	solo := faultCache(t, s, ns) // another process on the same store, idle during the outage
	other := tmplcache.New(s, tmplcache.WithNamespace(ns), testLogger(t))
	ctx := context.Background()

	_, err := cache.Fetch(ctx, "before", fillWith("old"), tmplcache.Tags("before-tag"))
	require.NoError(t, err)
	require.NoError(t, cache.InvalidateTags(ctx, "before-tag"))
	requireMiss(t, cache, "before", "invalidated before the outage")
	_, err = cache.Fetch(ctx, "during", fillWith("old"), tmplcache.Tags("during-tag"))
	require.NoError(t, err)
	requireHit(t, cache, "during")
	_, err = solo.Fetch(ctx, "solo", fillWith("old"), tmplcache.Tags("solo-tag"))
	require.NoError(t, err)
	requireHit(t, solo, "solo")
	soloRecord := rawGet(t, s, "{"+ns+"/tags}:solo-tag")
	require.NotNil(t, soloRecord)

	r := startRenders(t, cache, 8)
	r.waitForMore(t, 200, "renders before the outage")
	require.NotZero(t, cache.Stats().Hits)

	px.blackhole()
	outageStart := time.Now()
	require.Eventually(t, func() bool {
		st := cache.Stats()
		return st.BreakerOpens > 0 && st.ShortCircuits > 0
	}, 5*time.Second, time.Millisecond, "the breaker must open and short-circuit calls")
	require.Error(t, cache.InvalidateTags(ctx, "during-tag"), "an invalidation that cannot reach the store must say so")
	require.Equal(t, 1, cache.Stats().PendingTags)
	require.Error(t, solo.InvalidateTags(ctx, "solo-tag"))
	_, ok, _ := cache.Get(ctx, "during")
	require.False(t, ok, "an entry whose invalidation is pending must not be served")
	outlast(t, cache, r)
	px.restore()
	outageEnd := time.Now()

	require.Eventually(t, func() bool {
		st := cache.Stats()
		return !st.BreakerOpen && st.PendingTags == 0
	}, 5*time.Second, time.Millisecond, "the breaker must close and the pending invalidation be re-applied")
	hits := cache.Stats().Hits
	require.Eventually(t, func() bool { return cache.Stats().Hits > hits+100 }, 5*time.Second, time.Millisecond,
		"renders must be served from the cache again")
	checkRenders(t, r, outageStart, outageEnd)
	st := cache.Stats()
	t.Logf("stats: %+v", st)

	// Nothing invalidated before or during the outage is served, although
	// the entries themselves survived it.
	for _, key := range []string{"before", "during"} {
		require.NotNil(t, rawGet(t, s, ns+":e:"+key), "the entry itself is still stored")
		requireMiss(t, cache, key, "invalidated")
		requireMiss(t, other, key, "invalidated, seen from another process")
	}

	// The idle cache has not re-applied its invalidation yet: the store
	// still holds the old record. Its first read must re-apply it before
	// serving anything, and never serve the entry.
	require.Equal(t, soloRecord, rawGet(t, s, "{"+ns+"/tags}:solo-tag"), "nobody re-applied solo's invalidation yet")
	require.Equal(t, 1, solo.Stats().PendingTags)
	require.Eventually(t, func() bool {
		v, ok, err := solo.Get(ctx, "solo")
		require.False(t, ok, "solo served %q with its invalidation pending", v)
		return err == nil && solo.Stats().PendingTags == 0
	}, 5*time.Second, time.Millisecond)
	require.NotEqual(t, soloRecord, rawGet(t, s, "{"+ns+"/tags}:solo-tag"), "the read re-applied the invalidation")
	requireMiss(t, other, "solo", "invalidated, seen from another process")
}

// A server that dies (connections refused, data lost) and is restarted.
func TestFaultServerKilled(t *testing.T) {
	srv := startOwnServer(t)
	client := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.sock, ReadTimeout: faultReadTimeout, WriteTimeout: faultReadTimeout})
	t.Cleanup(func() { _ = client.Close() })
	s := New(client)
	ns := fmt.Sprintf("redisstore-test-%d", time.Now().UnixNano()) // a private server: nothing to clean
	cache := faultCache(t, s, ns)
	ctx := context.Background()

	_, err := cache.Fetch(ctx, "before", fillWith("old"), tmplcache.Tags("before-tag"))
	require.NoError(t, err)
	requireHit(t, cache, "before")

	r := startRenders(t, cache, 8)
	r.waitForMore(t, 200, "renders before the outage")
	srv.kill()
	outageStart := time.Now()
	require.Eventually(t, func() bool {
		st := cache.Stats()
		return st.BreakerOpens > 0 && st.ShortCircuits > 0
	}, 5*time.Second, time.Millisecond, "the breaker must open and short-circuit calls")
	require.Error(t, cache.InvalidateTags(ctx, "before-tag"))
	outlast(t, cache, r)
	srv.start()
	outageEnd := time.Now()

	require.Eventually(t, func() bool {
		st := cache.Stats()
		return !st.BreakerOpen && st.PendingTags == 0
	}, 5*time.Second, time.Millisecond, "the breaker must close and the pending invalidation be re-applied")
	stores, hits := cache.Stats().Stores, cache.Stats().Hits
	require.Eventually(t, func() bool {
		st := cache.Stats()
		return st.Stores > stores && st.Hits > hits+100
	}, 5*time.Second, time.Millisecond, "renders must be stored and served from the restarted server")
	checkRenders(t, r, outageStart, outageEnd)
	t.Logf("stats: %+v", cache.Stats())
	requireMiss(t, cache, "before", "stored before the server lost everything")
}
