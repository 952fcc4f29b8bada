package memcachestore

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

func TestExpiration(t *testing.T) {
	const day = 24 * time.Hour
	// A clock in the middle of a second, and one on a second.
	now := time.Date(2026, 5, 1, 12, 0, 0, 300_000_000, time.UTC)
	whole := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		now  time.Time
		want int64
	}{
		{"zero means no expiry", 0, now, 0},
		{"one nanosecond rounds up to one second", time.Nanosecond, now, 1},
		{"300ms rounds up to one second", 300 * time.Millisecond, now, 1},
		{"one second is one second", time.Second, now, 1},
		{"a second and a nanosecond round up", time.Second + time.Nanosecond, now, 2},
		{"90s is relative", 90 * time.Second, now, 90},
		{"30 days is still relative", 30 * day, now, maxRelative},
		{"just under 30 days rounds up to 30 days, relative", 30*day - time.Millisecond, now, maxRelative},
		{"just over 30 days is a Unix time, rounded up", 30*day + time.Nanosecond, now, now.Unix() + maxRelative + 1},
		{"31 days is a Unix time, rounded up", 31 * day, now, now.Unix() + 31*86400 + 1},
		{"31 days on a whole second needs no rounding", 31 * day, whole, whole.Unix() + 31*86400},
		{"past 2038 it is clamped to the last 32-bit time", 100 * 365 * day, now, math.MaxInt32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expiration(tc.ttl, tc.now)
			require.NoError(t, err)
			require.Equal(t, tc.want, int64(got))
		})
	}
	t.Run("a negative TTL is an error", func(t *testing.T) {
		_, err := expiration(-time.Second, now)
		require.ErrorIs(t, err, ErrNegativeTTL)
	})
}

// TestTTLsOnTheServer checks the conversion where it matters: a TTL over 30
// days sent as a relative time would be read as a Unix time in 1970, and
// the item would be gone at once; a sub-second TTL rounded to 0 would never
// expire.
func TestTTLsOnTheServer(t *testing.T) {
	t.Parallel()
	s := New(NewTestClient(t, ServerAddr(t)))
	ctx := context.Background()
	p := Namespace() + ":"
	const day = 24 * time.Hour
	long := []time.Duration{0, 30 * day, 30*day + time.Second, 31 * day, 365 * day}
	items := make([]tmplcache.Item, len(long))
	keys := make([]string, len(long))
	for i, ttl := range long {
		keys[i] = p + ttl.String()
		items[i] = tmplcache.Item{Key: keys[i], Value: []byte(ttl.String()), TTL: ttl}
	}
	require.NoError(t, s.Set(ctx, items))
	vals, err := s.Get(ctx, keys)
	require.NoError(t, err)
	for i, v := range vals {
		require.Equal(t, long[i].String(), string(v), "an item with TTL %v must be there", long[i])
	}
	// Clean up: these would outlive the test.
	require.NoError(t, s.Delete(ctx, keys))

	short := p + "short"
	require.NoError(t, s.Add(ctx, []tmplcache.Item{{Key: short, Value: []byte("x"), TTL: 300 * time.Millisecond}}))
	require.Eventually(t, func() bool {
		v, err := s.Get(ctx, []string{short})
		return err == nil && v[0] == nil
	}, 5*time.Second, 50*time.Millisecond, "an item with a 300ms TTL must expire")
}
