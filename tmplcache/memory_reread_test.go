package tmplcache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/internal/testclock"
)

// A MemoryStore read reuses the tag records an entry's last read found
// while no tag record changed (memory_reread.go). Every way a record can
// change must end that: an invalidation, a Delete, an eviction, an expiry
// and a plain Set of the record's key. After each, the Cache must see a
// miss at once, and the read that follows must again be served from the
// entry's records.
func TestMemoryStoreRereadSeesEveryRecordChange(t *testing.T) {
	ctx := context.Background()
	for _, change := range []struct {
		name string
		do   func(t *testing.T, m *MemoryStore, c *Cache)
	}{
		{"invalidation", func(t *testing.T, m *MemoryStore, c *Cache) {
			require.NoError(t, c.InvalidateTags(ctx, "b"))
		}},
		{"delete", func(t *testing.T, m *MemoryStore, c *Cache) {
			require.NoError(t, m.Delete(ctx, []string{c.tagKey("b")}))
		}},
		{"overwrite", func(t *testing.T, m *MemoryStore, c *Cache) {
			other := m.get(c.tagKey("a")) // a record at another version
			require.NoError(t, m.Set(ctx, []Item{{Key: c.tagKey("b"), Value: other}}))
		}},
		{"expiry", func(t *testing.T, m *MemoryStore, c *Cache) {
			rec := m.get(c.tagKey("b"))
			require.NoError(t, m.Set(ctx, []Item{{Key: c.tagKey("b"), Value: rec, TTL: time.Millisecond}}))
			// The rewrite itself counts: read once more to reuse it, then
			// let it expire with no write at all.
			requireHit(t, c, "k")
			requireReused(t, m, c, "k")
			time.Sleep(5 * time.Millisecond)
		}},
		{"eviction", func(t *testing.T, m *MemoryStore, c *Cache) {
			// Fill the store with items read once each: they move on to
			// the main queue, whose clock takes the records' reads back
			// turn after turn, until they go.
			before := m.Stats().Evictions
			for i := 0; ; i++ {
				if _, ok := m.c.Get(c.tagKey("b")); !ok { // (get would count a read)
					break
				}
				require.NoError(t, m.Set(ctx, []Item{{Key: fmt.Sprint("filler:", i), Value: make([]byte, 512)}}))
				m.get(fmt.Sprint("filler:", i))
				require.Less(t, i, 10000, "the record was never evicted")
			}
			require.Greater(t, m.Stats().Evictions, before)
		}},
	} {
		t.Run(change.name, func(t *testing.T) {
			m := NewMemoryStore(MaxBytes(64 << 10))
			c := New(m)
			require.NoError(t, c.Set(ctx, "k", []byte("v"), Tags("a", "b", "c")))
			requireHit(t, c, "k")
			requireHit(t, c, "k")
			requireReused(t, m, c, "k")

			change.do(t, m, c)
			_, ok, err := c.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, ok, "the entry was served after its tag record changed (%s)", change.name)

			require.NoError(t, c.Set(ctx, "k", []byte("w"), Tags("a", "b", "c")))
			requireHit(t, c, "k")
			requireHit(t, c, "k")
			requireReused(t, m, c, "k")
		})
	}
}

func requireHit(t *testing.T, c *Cache, key string) {
	t.Helper()
	_, ok, err := c.Get(context.Background(), key)
	require.NoError(t, err)
	require.True(t, ok, "%s: not a hit", key)
}

// requireReused checks that the entry's last read can serve the next: the
// records it holds are the store's, and no record changed since.
func requireReused(t *testing.T, m *MemoryStore, c *Cache, key string) {
	t.Helper()
	v, ok := m.c.Get(c.entryKey(key))
	require.True(t, ok)
	r := v.(*memItem).read.Load()
	require.NotNil(t, r, "%s: no read to reuse", key)
	require.Equal(t, m.recGen.Load(), r.gen, "%s: a record changed since the last read", key)
	require.Len(t, r.recs, 3)
	require.NotNil(t, r.current.Load(), "%s: the cache's finding was not kept", key)
	for i, tag := range []string{"a", "b", "c"} {
		cur, ok := m.c.Get(c.tagKey(tag))
		require.True(t, ok)
		require.Same(t, cur.(*memItem), r.recs[i], "record %q", tag)
	}
}

// A hit that reuses the cache's last finding (every version current, no
// record changed since) still judges time on every read: the entry's
// expiry and grace by the cache's clock, not by when the finding was made.
func TestMemoryHitReuseJudgesTime(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New()
	m := NewMemoryStore()
	c := New(m, WithClock(clk), WithoutEarlyRecompute())
	require.NoError(t, c.Set(ctx, "k", []byte("v"), Tags("a"), TTL(time.Minute), Grace(time.Minute)))
	requireHit(t, c, "k")
	v, _ := m.c.Get(c.entryKey("k"))
	r := v.(*memItem).read.Load()
	require.NotNil(t, r)
	require.NotNil(t, r.current.Load())

	clk.Add(time.Minute + time.Second) // expired, within its grace
	var e entryView
	st, err := c.load(ctx, c.entryKey("k"), nil, c.now(), true, nil, &e)
	require.NoError(t, err)
	require.Equal(t, inGrace, st.readState)
	_, ok, err := c.Get(ctx, "k")
	require.NoError(t, err)
	require.False(t, ok, "an expired entry was a hit")

	clk.Add(time.Minute) // past its grace too
	st, err = c.load(ctx, c.entryKey("k"), nil, c.now(), true, nil, &e)
	require.NoError(t, err)
	require.Equal(t, missed, st.readState)
	require.Same(t, r, v.(*memItem).read.Load(), "the reads above reused the finding")
}

// A record missing when the entry is read (evicted, say) leaves nothing to
// reuse: the entry is invalid, and the record that comes back later (a new
// one, at another version) must be read.
func TestMemoryStoreRereadNeedsEveryRecord(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	c := New(m)
	require.NoError(t, c.Set(ctx, "k", []byte("v"), Tags("a", "b")))
	m.mu.Lock()
	v, _ := m.c.Get(c.tagKey("a"))
	m.removeLocked(v.(*memItem))
	m.mu.Unlock()
	_, recs, err := m.GetEntry(ctx, c.entryKey("k"), nil)
	require.NoError(t, err)
	require.Nil(t, recs[0])
	v, _ = m.c.Get(c.entryKey("k"))
	require.Nil(t, v.(*memItem).read.Load())
	_, ok, err := c.Get(ctx, "k")
	require.NoError(t, err)
	require.False(t, ok)
}

// DESIGN.md §3.3 under eviction: the stress of TestNoStaleReadAfterInvalidation
// on a store so small that a flood of other keys keeps evicting around the
// entry and its record (each eviction a write under the store's lock, as an
// invalidation is), while hits reuse the records their last read found.
func TestNoStaleReadUnderEviction(t *testing.T) {
	m := NewMemoryStore(MaxBytes(48 << 10))
	c := New(m)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			key := fmt.Sprint("flood:", i%200)
			_ = m.Set(ctx, []Item{{Key: key, Value: make([]byte, 700)}})
			m.get(fmt.Sprint("flood:", (i*7)%200)) // some are read: the main queue turns
			if i%64 == 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	reads, stale := staleReads(t, c, 1500*time.Millisecond)
	stop()
	<-done
	stats, ms := c.Stats(), m.Stats()
	t.Logf("%d reads, %d stale; %d hits; store: %d evictions, %d record changes", reads, stale, stats.Hits, ms.Evictions, m.recGen.Load())
	require.Zero(t, stale, "a read returned data older than an invalidation that had returned")
	require.NotZero(t, stats.Hits)
	require.NotZero(t, ms.Evictions)
}
