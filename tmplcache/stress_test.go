package tmplcache

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// staleReads runs the §3.3 stress: writers bump a counter (the data) and
// then invalidate its tag; readers note the newest counter whose
// invalidation has returned, then Fetch a value whose fill reads the
// counter and dawdles a few hundred µs. A read that returns a counter older
// than the one noted before it began is stale.
func staleReads(t *testing.T, c *Cache, d time.Duration) (reads, stale int64) {
	var data, published atomic.Int64
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := data.Add(1)
				if err := c.InvalidateTags(ctx, "counter"); err != nil {
					t.Error(err)
					return
				}
				for p := published.Load(); p < v && !published.CompareAndSwap(p, v); p = published.Load() {
				}
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			}
		})
	}
	var nReads, nStale atomic.Int64
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := published.Load()
				v, err := c.Fetch(ctx, "value", func(context.Context) ([]byte, error) {
					n := data.Load()
					time.Sleep(time.Duration(100+rand.IntN(400)) * time.Microsecond)
					return strconv.AppendInt(nil, n, 10), nil
				}, Tags("counter"))
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := strconv.ParseInt(string(v), 10, 64)
				nReads.Add(1)
				if n < floor {
					nStale.Add(1)
				}
			}
		})
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return nReads.Load(), nStale.Load()
}

func TestNoStaleReadAfterInvalidation(t *testing.T) {
	c := New(NewMemoryStore())
	reads, stale := staleReads(t, c, 1500*time.Millisecond)
	stats := c.Stats()
	t.Logf("versions read before the fill: %d reads, %d stale; %d hits, %d stores, %d skipped as stale",
		reads, stale, stats.Hits, stats.Stores, stats.SkippedStale)
	require.Zero(t, stale, "a read returned data older than an invalidation that had returned")
	require.NotZero(t, stats.Hits, "the stress must exercise hits, not only fills")
	require.NotZero(t, stats.SkippedStale, "the stress must exercise the race it guards against")
}

// The same stress with versions read at store time (the classic race) must
// serve stale data: this is what the test above guards against.
func TestNaiveStoreTimeVersionsServeStaleData(t *testing.T) {
	naive := func(c *config) { c.naiveVersions = true }
	var reads, stale int64
	for round := 0; round < 5 && stale == 0; round++ {
		r, s := staleReads(t, New(NewMemoryStore(), naive), time.Second)
		reads, stale = reads+r, stale+s
	}
	t.Logf("versions read at store time: %d reads, %d stale", reads, stale)
	require.NotZero(t, stale, "the naive variant should have produced stale reads")
}
