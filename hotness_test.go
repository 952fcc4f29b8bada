package cachetagging_test

import (
	"context"
	"fmt"
	"html/template"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/internal/stress"
	"github.com/cachetagging/cachetagging/internal/testserver"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/redisstore"
)

// hotFragment shows the data's version first, then a list: readers parse
// the version to tell a stale render.
const hotFragment = `{{ cache_tagging "latest" "posts" }}<p>v{{ .n }}</p><ul>{{ range .items }}<li>{{ upper . }}</li>{{ end }}</ul>{{ end_cache_tagging }}`

var versionRe = regexp.MustCompile(`<p>v(\d+)</p>`)

// hotRun is one run of hotTag: the table row of issue "hot tags stay
// cached".
type hotRun struct {
	renders, invalidations, stale int64
	stats                         tmplcache.Stats
}

func (h hotRun) hitRate() float64 {
	return float64(h.stats.Hits) / float64(h.stats.Hits+h.stats.Misses)
}

// hotTag runs four readers through ExecuteTemplate, each tracked from the
// start of its "request" (before it loads the data, as cachetagging.Track
// does), while a writer changes the data and invalidates its tag every
// `every`. A render showing data older than the last invalidation that
// returned before the render began is stale.
func hotTag(t *testing.T, c *tmplcache.Cache, r *cachetagging.Renderer, every, d time.Duration) hotRun {
	t.Helper()
	tmpl := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(hotFragment))
	require.NoError(t, r.Prepare(tmpl))
	items := make([]string, 50)
	for i := range items {
		items[i] = fmt.Sprintf("post number %d", i)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	res := stress.StaleReads(t, d, stress.Config{
		Writers:    1,
		Readers:    4,
		Pause:      func() <-chan time.Time { return tick.C },
		Invalidate: func(int) error { return c.InvalidateTags(bg, "posts") },
		Read: func(_ int, load func() int64) (int64, error) {
			ctx, scope := c.Track(bg) // the request begins
			n := load()               // the handler loads its data
			var b bytesWriter
			err := r.ExecuteTemplate(ctx, &b, tmpl, "t", map[string]any{"n": n, "items": items})
			_ = scope.End(ctx, nil)
			if err != nil {
				return 0, err
			}
			return strconv.ParseInt(string(versionRe.FindSubmatch(b)[1]), 10, 64)
		},
	})
	return hotRun{renders: res.Reads, invalidations: res.Invalidations, stale: res.Stale, stats: c.Stats()}
}

// Hot tags stay cached: a tag invalidated every 100 ms or 500 ms costs about
// one build per invalidation, and no render is stale. The rows printed are
// the table of the closing note (go test -run TestHotTagsStayCached -v).
func TestHotTagsStayCached(t *testing.T) {
	stores := []struct {
		name string
		new  func(t *testing.T) (*tmplcache.Cache, *cachetagging.Renderer)
	}{
		{"memory", func(t *testing.T) (*tmplcache.Cache, *cachetagging.Renderer) {
			c := tmplcache.New(nil)
			return c, cachetagging.New(c)
		}},
		{"redis", func(t *testing.T) (*tmplcache.Cache, *cachetagging.Renderer) {
			c := tmplcache.New(redisstore.New(redisClient(t)), tmplcache.WithNamespace(redisNamespace(t)))
			return c, cachetagging.New(c, cachetagging.WithSecret([]byte("a secret of the hot tag test")))
		}},
	}
	for _, st := range stores {
		for _, tc := range []struct {
			every   time.Duration
			minRate float64
		}{{100 * time.Millisecond, 0.95}, {500 * time.Millisecond, 0.99}} {
			t.Run(fmt.Sprintf("%s, invalidated every %v", st.name, tc.every), func(t *testing.T) {
				c, r := st.new(t)
				run := hotTag(t, c, r, tc.every, 3*time.Second)
				t.Logf("| %s | %v | %d renders | %d invalidations | %d stores | hit rate %.3f | %d stale |",
					st.name, tc.every, run.renders, run.invalidations, run.stats.Stores, run.hitRate(), run.stale)
				require.Zero(t, run.stale, "a render showed data older than an invalidation that had returned")
				require.GreaterOrEqual(t, run.hitRate(), tc.minRate)
				require.LessOrEqual(t, int64(run.stats.Stores), 3*(run.invalidations+1), "about one build per invalidation")
				require.NotZero(t, run.invalidations)
			})
		}
	}
}

// Two servers whose wall clocks disagree by ±2 s share one store: the
// store's logical clock orders their invalidations and builds, so neither
// serves stale data nor stops storing.
func TestServersWithSkewedClocksStayExact(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) (tmplcache.Store, tmplcache.Option)
	}{
		{"on a shared in-memory store", func(t *testing.T) (tmplcache.Store, tmplcache.Option) {
			return sharedMemory{tmplcache.NewMemoryStore()}, nil
		}},
		{"on redis", func(t *testing.T) (tmplcache.Store, tmplcache.Option) {
			return redisstore.New(redisClient(t)), tmplcache.WithNamespace(redisNamespace(t))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, ns := tc.store(t)
			skewedServers(t, store, ns)
		})
	}
}

// sharedMemory is a MemoryStore playing a store other processes see.
type sharedMemory struct{ *tmplcache.MemoryStore }

func (sharedMemory) Local() bool { return false }

func skewedServers(t *testing.T, store tmplcache.Store, ns tmplcache.Option) {
	secret := cachetagging.WithSecret([]byte("the secret both servers share"))
	var servers []*harness
	for _, skew := range []time.Duration{-2 * time.Second, 2 * time.Second} {
		c := tmplcache.New(store, tmplcache.WithClock(skewedClock(skew)), ns)
		r := cachetagging.New(c, secret)
		tmpl := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(
			`{{ cache_tagging "value" "counter" }}<p>v{{ .n }}</p>{{ end_cache_tagging }}`))
		require.NoError(t, r.Prepare(tmpl))
		servers = append(servers, &harness{t: t, c: c, r: r, tmpl: tmpl})
	}
	res := stress.StaleReads(t, 1500*time.Millisecond, stress.Config{
		Writers:    1,
		Readers:    4,
		Pause:      func() <-chan time.Time { return time.After(time.Millisecond + rand.N(4*time.Millisecond)) },
		Invalidate: func(i int) error { return servers[i%2].c.InvalidateTags(bg, "counter") },
		Read: func(g int, load func() int64) (int64, error) {
			h := servers[g%2]
			ctx, scope := h.c.Track(context.Background())
			n := load()
			time.Sleep(time.Duration(50+rand.IntN(200)) * time.Microsecond) // the handler works a little
			out, err := h.exec(ctx, "t", map[string]any{"n": n})
			_ = scope.End(ctx, nil)
			if err != nil {
				return 0, err
			}
			return strconv.ParseInt(versionRe.FindStringSubmatch(out)[1], 10, 64)
		},
	})
	a, b := servers[0].c.Stats(), servers[1].c.Stats()
	t.Logf("%d renders, %d invalidations, %d stale; stores %d and %d, hits %d and %d",
		res.Reads, res.Invalidations, res.Stale, a.Stores, b.Stores, a.Hits, b.Hits)
	require.Zero(t, res.Stale)
	require.NotZero(t, a.Stores, "the server whose clock is 2 s behind still stores")
	require.NotZero(t, b.Stores, "and so does the one 2 s ahead")
	require.NotZero(t, a.Hits+b.Hits)
}

type skewedClock time.Duration

func (s skewedClock) Now() time.Time { return time.Now().Add(time.Duration(s)) }

// redisClient returns a client of the test Redis (see internal/testserver).
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	testserver.Require(t, "redis", testserver.RedisAddr())
	c := redis.NewClient(&redis.Options{Addr: testserver.RedisAddr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// redisNamespace returns a namespace of the test's own, deleted after it.
func redisNamespace(t *testing.T) string {
	ns := fmt.Sprintf("cachetagging-test-%d-%x", os.Getpid(), rand.Uint64())
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: testserver.RedisAddr()})
		defer c.Close()
		ctx := context.Background()
		for _, pattern := range []string{ns + ":*", "{" + ns + "/tags}*"} {
			iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				c.Unlink(ctx, iter.Val())
			}
		}
	})
	return ns
}
