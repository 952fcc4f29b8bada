package cachetagging_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachetagging/cachetagging/internal/stress"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

// The §3.3 invariant through templates. A handler reads the data, works a
// little, then renders a fragment showing it; writers change the data and
// invalidate its tag. No render may show data older than an invalidation
// that returned before the request began — though the handler read the
// data before the fragment's block ever consulted the cache.
func TestConcurrentRendersNeverServeStaleFragments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tracked bool
		skew    time.Duration
		every   time.Duration // mean time between invalidations
	}{
		// The horizon is the request's start: the skew margin only has to
		// cover clocks, and one machine has one clock.
		{"requests tracked from their start", true, 5 * time.Millisecond, 10 * time.Millisecond},
		// The horizon is the block's start: the margin must also cover the
		// handler's time between loading data and rendering (here 0.1-0.5 ms,
		// plus whatever -race and a busy machine add).
		{"untracked requests whose data is read within the skew margin", false, 100 * time.Millisecond, 200 * time.Millisecond},
	} {
		tracked := tc.tracked
		t.Run(tc.name, func(t *testing.T) {
			h := parse(t, `<p>{{ cache_tagging "value" "counter" }}{{ .n }}{{ end_cache_tagging }}</p>`,
				tmplcache.WithSkew(tc.skew))
			res := stress.StaleReads(t, 1500*time.Millisecond, stress.Config{
				Writers:    1,
				Readers:    6,
				Pause:      func() <-chan time.Time { return time.After(tc.every/2 + rand.N(tc.every)) },
				Invalidate: func(int) error { return h.c.InvalidateTags(bg, "counter") },
				Read: func(_ int, load func() int64) (int64, error) {
					ctx := context.Background()
					if tracked {
						ctx, _ = h.c.Track(ctx) // the request begins
					}
					n := load() // the handler loads its data
					time.Sleep(time.Duration(100+rand.IntN(400)) * time.Microsecond)
					out, err := h.exec(ctx, "t", map[string]any{"n": n})
					if err != nil {
						return 0, err
					}
					return strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(out, "<p>"), "</p>"), 10, 64)
				},
			})
			stats := h.c.Stats()
			t.Logf("%d renders, %d stale; %d hits, %d stores, %d skipped as stale", res.Reads, res.Stale, stats.Hits, stats.Stores, stats.SkippedStale)
			require.Zero(t, res.Stale)
			require.NotZero(t, stats.Hits, "the test must exercise hits")
			require.NotZero(t, stats.Stores)
		})
	}
}

func TestConcurrentMissesOfOneFragmentRenderOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := parse(t, `{{ cache_tagging "slow" "t" }}{{ call .render }}{{ end_cache_tagging }}`)
		var renders atomic.Int32
		render := func() string {
			renders.Add(1)
			time.Sleep(50 * time.Millisecond) // an expensive body
			return "body"
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				out, err := h.exec(bg, "t", map[string]any{"render": render})
				require.NoError(t, err)
				require.Equal(t, "body", out)
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, renders.Load())
	})
}

func TestNestedRendersUnderInvalidationStayConsistent(t *testing.T) {
	h := newHarness(t, tmplcache.WithSkew(time.Millisecond))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tags := []string{"outer", "inner", "item:1", "item:2", "items"}
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			_ = h.c.InvalidateTags(bg, tags[rand.IntN(len(tags))])
		}
	})
	var renders atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				out, err := h.exec(bg, "nested", nestedData(g*1000+i))
				if err != nil {
					t.Error(err)
					return
				}
				if strings.Count(out, "<i>") != 2 || !strings.Contains(out, "inner=") || strings.Contains(out, "\x00") {
					t.Errorf("inconsistent output %q", out)
					return
				}
				renders.Add(1)
			}
		})
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	stats := h.c.Stats()
	t.Logf("%d renders; %d hits, %d stores", renders.Load(), stats.Hits, stats.Stores)
	require.NotZero(t, stats.Hits)
}

func TestCacheTimeoutExpiresTheFragment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := parse(t, `{{ cache_tagging "k" (cache_timeout 60) }}{{ .n }}{{ end_cache_tagging }}`)
		require.Equal(t, "1", h.render("t", map[string]int{"n": 1}))
		time.Sleep(59 * time.Second)
		require.Equal(t, "1", h.render("t", map[string]int{"n": 2}))
		time.Sleep(2 * time.Second)
		require.Equal(t, "3", h.render("t", map[string]int{"n": 3}))
	})
}
