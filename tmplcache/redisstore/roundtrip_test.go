package redisstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Round trips are the design, not a speed detail: a hit is one batch read
// of the entry and its tag versions, an invalidation one batch write,
// whatever the number of tags or of entries.
func TestRoundTripsOnOneServer(t *testing.T) {
	for _, b := range []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"miniredis", func(t *testing.T) redis.UniversalClient { c, _ := miniClient(t); return c }},
		{"redis", func(t *testing.T) redis.UniversalClient { return realClient(t) }},
	} {
		t.Run("on "+b.name, func(t *testing.T) {
			c := b.client(t)
			rt := countRoundTrips(c)
			s := New(c)
			// A long timeout: this test counts round trips on a machine that may be busy.
			cache := tmplcache.New(s, tmplcache.WithNamespace(namespace(t, c)), tmplcache.WithTimeout(5*time.Second))
			ctx := testCtx(t)
			tags := []string{"t1", "t2", "t3", "t4", "t5"}
			require.NoError(t, cache.Set(ctx, "one", []byte("v1"), tmplcache.Tags("t1")))
			require.NoError(t, cache.Set(ctx, "five", []byte("v5"), tmplcache.Tags(tags...)))
			_, _, _ = cache.Get(ctx, "one") // the server learns the scripts (EVALSHA, then EVAL)
			require.NoError(t, cache.InvalidateTags(ctx, "warm-up", "t-added"))
			wctx, scope := cache.Track(ctx) // and those of a build: lookup with records, checked write
			_, err := cache.Fetch(wctx, "warm-up", fillWith("w"), tmplcache.Tags(tags...))
			require.NoError(t, err)
			_, err = cache.Fetch(wctx, "rebuilt", fillWith("v1"), tmplcache.Tags("t-re"))
			require.NoError(t, err)
			require.NoError(t, scope.End(wctx, nil))

			for _, tc := range []struct {
				name string
				want int64
				call func(t *testing.T)
			}{
				{"a hit with one tag", 1, func(t *testing.T) {
					v, ok, err := cache.Get(ctx, "one")
					require.NoError(t, err)
					require.True(t, ok)
					require.Equal(t, "v1", string(v))
				}},
				{"a hit with five tags", 1, func(t *testing.T) {
					_, ok, err := cache.Get(ctx, "five")
					require.NoError(t, err)
					require.True(t, ok)
				}},
				{"a Fetch that hits", 1, func(t *testing.T) {
					v, err := cache.Fetch(ctx, "five", fillWith("not called"), tmplcache.Tags(tags...))
					require.NoError(t, err)
					require.Equal(t, "v5", string(v))
				}},
				// 1 + 2: the entry's tag no longer holds its version, so
				// the lookup brings the records along.
				{"invalidating a tag, then a tracked Fetch that rebuilds its entry", 3, func(t *testing.T) {
					require.NoError(t, cache.InvalidateTags(ctx, "t-re"))
					ctx, scope := cache.Track(ctx)
					v, err := cache.Fetch(ctx, "rebuilt", fillWith("v2"), tmplcache.Tags("t-re"))
					require.NoError(t, err)
					require.Equal(t, "v2", string(v))
					require.NoError(t, scope.End(ctx, nil))
				}},
				// A tag added during the build was not read with the
				// lookup: its record is read before the write.
				{"a tracked Fetch that misses and adds a tag while it builds", 3, func(t *testing.T) {
					ctx, scope := cache.Track(ctx)
					v, err := cache.Fetch(ctx, "added", func(ctx context.Context) ([]byte, error) {
						tmplcache.AddTags(ctx, "t-added")
						return []byte("v"), nil
					}, tmplcache.Tags(tags...))
					require.NoError(t, err)
					require.Equal(t, "v", string(v))
					require.NoError(t, scope.End(ctx, nil))
				}},
				{"a Peek that hits (a template block's hit)", 1, func(t *testing.T) {
					b := cache.Spec("five", tmplcache.Tags(tags...)).Peek(ctx)
					require.NotNil(t, b)
					require.NoError(t, b.End(ctx, nil))
				}},
				{"a Peek that misses, then Begin's own read", 2, func(t *testing.T) {
					spec := cache.Spec("absent", tmplcache.Tags(tags...))
					require.Nil(t, spec.Peek(ctx))
					b, err := spec.Begin(ctx)
					require.NoError(t, err)
					b.Abort()
				}},
				{"a miss", 1, func(t *testing.T) {
					_, ok, err := cache.Get(ctx, "absent")
					require.NoError(t, err)
					require.False(t, ok)
				}},
				// The lookup, which brings the records of the tags the
				// build declares, and the write, which stores only if
				// they are unchanged.
				{"a tracked Fetch that misses, builds and stores", 2, func(t *testing.T) {
					ctx, scope := cache.Track(ctx)
					v, err := cache.Fetch(ctx, "built", fillWith("v"), tmplcache.Tags(tags...))
					require.NoError(t, err)
					require.Equal(t, "v", string(v))
					require.NoError(t, scope.End(ctx, nil))
				}},
				{"a tracked request's clock reading", 0, func(t *testing.T) {
					ctx, scope := cache.Track(ctx) // an atomic load: the clock seen last
					require.NoError(t, scope.End(ctx, nil))
				}},
				{"invalidating one tag", 1, func(t *testing.T) {
					require.NoError(t, cache.InvalidateTags(ctx, "t1"))
				}},
				{"invalidating five tags", 1, func(t *testing.T) {
					require.NoError(t, cache.InvalidateTags(ctx, tags...))
				}},
				{"a store Get of five keys", 1, func(t *testing.T) {
					_, err := s.Get(ctx, keysOf(items(t, c, 5)))
					require.NoError(t, err)
				}},
				{"a store Set of five items", 1, func(t *testing.T) {
					require.NoError(t, s.Set(ctx, items(t, c, 5)))
				}},
				{"a store Add of five items", 1, func(t *testing.T) {
					require.NoError(t, s.Add(ctx, items(t, c, 5)))
				}},
				{"a store Delete of five keys", 1, func(t *testing.T) {
					require.NoError(t, s.Delete(ctx, keysOf(items(t, c, 5))))
				}},
			} {
				t.Run(fmt.Sprintf("%s costs %d round trips", tc.name, tc.want), func(t *testing.T) {
					require.Equal(t, tc.want, rt.during(func() { tc.call(t) }))
				})
			}
			// The invalidations above made both entries invalid.
			for _, k := range []string{"one", "five"} {
				_, ok, err := cache.Get(ctx, k)
				require.NoError(t, err)
				require.False(t, ok, k)
			}
		})
	}
}

// items returns n items whose keys belong to the test.
func items(t *testing.T, c redis.UniversalClient, n int) []tmplcache.Item {
	ns := namespace(t, c)
	its := make([]tmplcache.Item, n)
	for i := range its {
		its[i] = tmplcache.Item{Key: fmt.Sprintf("%s:%d", ns, i), Value: []byte("v")}
	}
	return its
}

func keysOf(its []tmplcache.Item) []string {
	keys := make([]string, len(its))
	for i, it := range its {
		keys[i] = it.Key
	}
	return keys
}
