package tmplcache

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/internal/stress"
	"github.com/stretchr/testify/require"
)

// staleReads runs the §3.3 stress (see internal/stress) on c: two writers
// bump a counter (the data) and invalidate its tag, up to 300 µs apart; six
// readers Fetch a value whose fill reads the counter and dawdles a few
// hundred µs.
func staleReads(t *testing.T, c *Cache, d time.Duration) (reads, stale int64) {
	ctx := context.Background()
	res := stress.StaleReads(t, d, stress.Config{
		Writers: 2,
		Readers: 6,
		Pause: func() <-chan time.Time {
			return time.After(time.Duration(rand.IntN(300)) * time.Microsecond)
		},
		Invalidate: func(int) error { return c.InvalidateTags(ctx, "counter") },
		Read: func(_ int, load func() int64) (int64, error) {
			v, err := c.Fetch(ctx, "value", func(context.Context) ([]byte, error) {
				n := load()
				time.Sleep(time.Duration(100+rand.IntN(400)) * time.Microsecond)
				return strconv.AppendInt(nil, n, 10), nil
			}, Tags("counter"))
			if err != nil {
				return 0, err
			}
			return strconv.ParseInt(string(v), 10, 64)
		},
	})
	return res.Reads, res.Stale
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
