package tmplcache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Early recomputation: far from expiry nobody rebuilds; close to it one
// reader rebuilds early while the value stays valid for the others; turned
// off, nobody rebuilds before expiry.
func TestEarlyRecomputation(t *testing.T) {
	run := func(opt tmplcache.Option) (far, near int32) {
		clk := newFakeClock()
		c := tmplcache.New(nil, tmplcache.WithClock(clk), opt)
		var builds atomic.Int32
		fill := func(context.Context) ([]byte, error) {
			builds.Add(1)
			clk.Add(time.Second) // an expensive build: one second
			return []byte("v"), nil
		}
		opts := []tmplcache.SetOption{tmplcache.TTL(time.Minute)}
		expires := func() time.Time {
			b, err := c.Begin(bg, "k", opts...)
			require.NoError(t, err)
			require.True(t, b.Hit())
			_, exp := b.Stored()
			require.NoError(t, b.End(bg, nil))
			return exp
		}
		_, err := c.Fetch(bg, "k", fill, opts...)
		require.NoError(t, err)
		builds.Store(0)

		clk.Add(expires().Sub(clk.Now()) - 9*time.Second) // nine build times left
		for range 1000 {
			_, err := c.Fetch(bg, "k", fill, opts...)
			require.NoError(t, err)
		}
		far = builds.Swap(0)

		clk.Add(expires().Sub(clk.Now()) - 200*time.Millisecond) // a fifth of a build time left
		for i := 0; i < 200 && builds.Load() == 0; i++ {
			_, err := c.Fetch(bg, "k", fill, opts...)
			require.NoError(t, err)
		}
		near = builds.Load()
		require.True(t, expires().After(clk.Now()), "the value is valid: refreshed, or not expired yet")
		return far, near
	}
	far, near := run(nil)
	t.Logf("default β=1: %d early rebuilds in 1000 reads nine build times from expiry, %d a fifth of one before", far, near)
	require.LessOrEqual(t, far, int32(5), "far from expiry a rebuild is rare (p = e^-9 per read)")
	require.Equal(t, int32(1), near, "near expiry a reader rebuilds early (p = e^-0.2 per read), once")

	far, near = run(tmplcache.WithoutEarlyRecompute())
	require.Zero(t, far+near, "turned off, nobody rebuilds before expiry")
}
