package tmplcache_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

func setItem(t *testing.T, s *tmplcache.MemoryStore, key string, value []byte, ttl time.Duration) {
	t.Helper()
	require.NoError(t, s.Set(bg, []tmplcache.Item{{Key: key, Value: value, TTL: ttl}}))
}

func getItem(t *testing.T, s *tmplcache.MemoryStore, key string) []byte {
	t.Helper()
	v, err := s.Get(bg, []string{key})
	require.NoError(t, err)
	return v[0]
}

func TestMemoryStoreBudget(t *testing.T) {
	const budget = 256 << 10
	for _, tc := range []struct {
		name string
		size func(r *rand.Rand) int
	}{
		{"tag records", func(*rand.Rand) int { return 24 }},
		{"fragments of a few hundred bytes", func(r *rand.Rand) int { return 100 + r.IntN(900) }},
		{"pages of 2 to 8 KiB", func(r *rand.Rand) int { return 2<<10 + r.IntN(6<<10) }},
		{"pages of up to half the budget", func(r *rand.Rand) int { return r.IntN(budget / 2) }},
	} {
		t.Run("bytes accounted never exceed the budget after a write of "+tc.name, func(t *testing.T) {
			s := tmplcache.NewMemoryStore(tmplcache.MaxBytes(budget))
			r := rand.New(rand.NewPCG(7, 7))
			for i := range 5000 {
				k := fmt.Sprintf("/search?q=%d", r.IntN(3000))
				v := make([]byte, tc.size(r))
				if i%3 == 0 {
					require.NoError(t, s.Add(bg, []tmplcache.Item{{Key: k, Value: v}}))
				} else {
					setItem(t, s, k, v, 0)
				}
				st := s.Stats()
				require.LessOrEqual(t, st.Bytes, st.MaxBytes, "after write %d", i)
				require.Equal(t, s.Len(), st.Items)
			}
			st := s.Stats()
			require.NotZero(t, st.Evictions)
			require.Greater(t, st.Bytes, int64(budget)/2, "the store should use its budget, not stay near empty")
		})
	}

	t.Run("a value larger than the whole budget is not stored and the key's old value is gone", func(t *testing.T) {
		s := tmplcache.NewMemoryStore(tmplcache.MaxBytes(64 << 10))
		setItem(t, s, "k", []byte("old"), 0)
		setItem(t, s, "k", make([]byte, 64<<10), 0)
		require.Nil(t, getItem(t, s, "k"))
		st := s.Stats()
		require.Equal(t, uint64(1), st.TooLarge)
		require.Zero(t, st.Items)
		require.Zero(t, st.Bytes)
	})

	t.Run("recently read items survive a flood of new ones", func(t *testing.T) {
		s := tmplcache.NewMemoryStore(tmplcache.MaxBytes(budget))
		page := make([]byte, 1<<10)
		for i := range 100 {
			setItem(t, s, fmt.Sprintf("/old?%d", i), page, 0)
		}
		for i := range 10 {
			require.NotNil(t, getItem(t, s, fmt.Sprintf("/old?%d", i)))
		}
		for i := range 5000 { // twenty times the budget, never read
			setItem(t, s, fmt.Sprintf("/crawler?%d", i), page, 0)
		}
		for i := range 100 {
			if i < 10 {
				require.NotNil(t, getItem(t, s, fmt.Sprintf("/old?%d", i)), "read item %d was evicted", i)
			} else {
				require.Nil(t, getItem(t, s, fmt.Sprintf("/old?%d", i)), "unread item %d outlived the flood", i)
			}
		}
	})

	t.Run("items read between the writes of a flood survive it", func(t *testing.T) {
		s := tmplcache.NewMemoryStore(tmplcache.MaxBytes(budget))
		page := make([]byte, 1<<10)
		for i := range 50 {
			setItem(t, s, fmt.Sprintf("/hot?%d", i), page, 0)
		}
		for i := range 5000 {
			setItem(t, s, fmt.Sprintf("/crawler?%d", i), page, 0)
			require.NotNil(t, getItem(t, s, fmt.Sprintf("/hot?%d", i%50)), "hot item %d evicted at write %d", i%50, i)
		}
	})

	t.Run("a cache over a full store misses, never fails, when tag records are evicted", func(t *testing.T) {
		s := tmplcache.NewMemoryStore(tmplcache.MaxBytes(128 << 10))
		c := tmplcache.New(s)
		for i := range 2000 {
			require.NoError(t, c.Set(bg, fmt.Sprint("entry", i), make([]byte, 500), tmplcache.Tags(fmt.Sprint("tag", i))))
		}
		hits := 0
		for i := range 2000 {
			v, ok, err := c.Get(bg, fmt.Sprint("entry", i))
			require.NoError(t, err)
			if ok {
				require.Len(t, v, 500)
				hits++
			}
		}
		require.Less(t, hits, 2000, "the budget was meant to evict")
		require.LessOrEqual(t, s.Stats().Bytes, int64(128<<10))
	})
}

func TestMemoryStoreExpiry(t *testing.T) {
	t.Run("an expired item reads as missing and that read reclaims it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := tmplcache.NewMemoryStore()
			setItem(t, s, "short", []byte("x"), time.Second)
			setItem(t, s, "forever", []byte("y"), 0)
			time.Sleep(time.Second - time.Nanosecond)
			require.NotNil(t, getItem(t, s, "short"), "an item lives until its TTL")
			time.Sleep(time.Nanosecond)
			require.Nil(t, getItem(t, s, "short"))
			st := s.Stats()
			require.Equal(t, 1, st.Items)
			require.Equal(t, uint64(1), st.Expirations)
			time.Sleep(24 * time.Hour)
			require.Equal(t, []byte("y"), getItem(t, s, "forever"))
		})
	})

	t.Run("expired items nobody reads are reclaimed by the next sweep", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := tmplcache.NewMemoryStore()
			for i := range 100 {
				setItem(t, s, fmt.Sprint(i), make([]byte, 1000), time.Second)
			}
			setItem(t, s, "forever", []byte("y"), 0)
			time.Sleep(time.Minute)
			require.Equal(t, 101, s.Stats().Items, "nothing sweeps before a write or read")
			setItem(t, s, "trigger", []byte("z"), 0)
			st := s.Stats()
			require.Equal(t, 2, st.Items)
			require.Equal(t, uint64(100), st.Expirations)
		})
	})

	t.Run("reads sweep too, when nothing is written", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := tmplcache.NewMemoryStore()
			setItem(t, s, "read", []byte("x"), time.Hour)
			for i := range 100 {
				setItem(t, s, fmt.Sprint(i), make([]byte, 1000), time.Second)
			}
			time.Sleep(time.Minute)
			require.NotNil(t, getItem(t, s, "read"))
			require.Equal(t, 1, s.Stats().Items)
		})
	})

	t.Run("expired items that eviction reaches count as expired, not evicted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := tmplcache.NewMemoryStore(tmplcache.MaxBytes(64 << 10))
			page := make([]byte, 1000)
			for i := range 20 {
				setItem(t, s, fmt.Sprint("dying", i), page, time.Second)
			}
			time.Sleep(time.Second)
			for i := range 50 {
				setItem(t, s, fmt.Sprint("new", i), page, 0)
			}
			st := s.Stats()
			require.NotZero(t, st.Expirations, "the writes were meant to overflow the budget")
			require.Zero(t, st.Evictions, "the budget has room for every live item")
			require.Equal(t, 70-int(st.Expirations), st.Items)
		})
	})
}

func TestMemoryStoreOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []tmplcache.MemoryOption
		max  int64
	}{
		{"no option means the default budget", nil, tmplcache.DefaultMemoryMaxBytes},
		{"a nil option means the default budget", []tmplcache.MemoryOption{nil}, tmplcache.DefaultMemoryMaxBytes},
		{"a zero budget means the default budget", []tmplcache.MemoryOption{tmplcache.MaxBytes(0)}, tmplcache.DefaultMemoryMaxBytes},
		{"a positive budget is the budget", []tmplcache.MemoryOption{tmplcache.MaxBytes(1 << 20)}, 1 << 20},
		{"the last budget given wins", []tmplcache.MemoryOption{tmplcache.MaxBytes(1 << 20), tmplcache.MaxBytes(2 << 20)}, 2 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tmplcache.NewMemoryStore(tc.opts...)
			require.Equal(t, tc.max, s.Stats().MaxBytes)
			setItem(t, s, "k", []byte("v"), 0)
			require.Equal(t, []byte("v"), getItem(t, s, "k"))
		})
	}

	t.Run("a negative budget makes every call fail with ErrBadOption", func(t *testing.T) {
		s := tmplcache.NewMemoryStore(tmplcache.MaxBytes(-1))
		ctx := context.Background()
		_, err := s.Get(ctx, []string{"k"})
		require.ErrorIs(t, err, tmplcache.ErrBadOption)
		require.ErrorContains(t, err, "MaxBytes(-1)")
		_, _, err = s.GetEntry(ctx, "k", nil)
		require.ErrorIs(t, err, tmplcache.ErrBadOption)
		require.ErrorIs(t, s.Set(ctx, []tmplcache.Item{{Key: "k", Value: []byte("v")}}), tmplcache.ErrBadOption)
		require.ErrorIs(t, s.Add(ctx, []tmplcache.Item{{Key: "k", Value: []byte("v")}}), tmplcache.ErrBadOption)
		require.ErrorIs(t, s.Delete(ctx, []string{"k"}), tmplcache.ErrBadOption)

		_, _, err = tmplcache.New(s, tmplcache.WithLogger(slog.New(slog.DiscardHandler))).Get(ctx, "k")
		require.ErrorIs(t, err, tmplcache.ErrBadOption, "a cache on the store passes the error on")
	})
}
