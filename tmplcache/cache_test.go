package tmplcache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/internal/storefake"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, c *tmplcache.Cache, key string) (string, bool) {
	t.Helper()
	v, ok, err := c.Get(bg, key)
	require.NoError(t, err)
	return string(v), ok
}

func requireHit(t *testing.T, c *tmplcache.Cache, key, want string) {
	t.Helper()
	v, ok := get(t, c, key)
	require.True(t, ok, "%q must be a hit", key)
	require.Equal(t, want, v)
}

func requireMiss(t *testing.T, c *tmplcache.Cache, key string) {
	t.Helper()
	_, ok := get(t, c, key)
	require.False(t, ok, "%q must be a miss", key)
}

// Django cache-tagging's test_cache.
func TestDjangoCache(t *testing.T) {
	c := tmplcache.New(nil)
	tags1 := []string{"tests.firsttestmodel.pk:1"}
	tags2 := []string{"tests.secondtestmodel.pk:2", "tests.firsttestmodel"}
	set := func() {
		require.NoError(t, c.Set(bg, "name1", []byte("value1"), tmplcache.Tags(tags1...), tmplcache.TTL(120*time.Second)))
		require.NoError(t, c.Set(bg, "name2", []byte("value2"), tmplcache.Tags(tags2...), tmplcache.TTL(120*time.Second)))
	}
	set()
	requireHit(t, c, "name1", "value1")
	requireHit(t, c, "name2", "value2")

	// obj1 saved: its registry tags are the pk tag and the model tag.
	require.NoError(t, c.InvalidateTags(bg, "tests.firsttestmodel.pk:1", "tests.firsttestmodel"))
	requireMiss(t, c, "name1")
	requireMiss(t, c, "name2")

	set()
	requireHit(t, c, "name1", "value1")
	requireHit(t, c, "name2", "value2")

	require.NoError(t, c.InvalidateTags(bg, "tests.secondtestmodel.pk:2"))
	requireHit(t, c, "name1", "value1")
	requireMiss(t, c, "name2")

	require.NoError(t, c.InvalidateTags(bg, append(tags1, tags2...)...))
	require.NoError(t, c.InvalidateTags(bg, "non_existent_tag"))
	requireMiss(t, c, "name1")
}

// Django cache-tagging's test_ancestors, with Get/Set inside a Fetch fill carrying the
// enclosing scope, and the same with nested Fetch.
func TestDjangoAncestors(t *testing.T) {
	c := tmplcache.New(nil)
	build := func(wantInnerHit bool) {
		_, err := c.Fetch(bg, "name1", func(ctx context.Context) ([]byte, error) {
			v2, ok, err := c.Get(ctx, "name2")
			require.NoError(t, err)
			require.Equal(t, wantInnerHit, ok)
			if !ok {
				v2 = []byte("val2")
				require.NoError(t, c.Set(ctx, "name2", v2, tmplcache.Tags("tag2")))
			}
			return append([]byte("val1"), v2...), nil
		}, tmplcache.Tags("tag1"))
		require.NoError(t, err)
	}

	build(false)
	requireHit(t, c, "name1", "val1val2")
	require.NoError(t, c.InvalidateTags(bg, "tag2"))
	requireMiss(t, c, "name1") // invalidated by tag2 of its descendant
	requireMiss(t, c, "name2")

	// Now the inner value is a hit while the outer is built.
	require.NoError(t, c.Set(bg, "name2", []byte("val2"), tmplcache.Tags("tag2")))
	build(true)
	requireHit(t, c, "name1", "val1val2")
	require.NoError(t, c.InvalidateTags(bg, "tag2"))
	requireMiss(t, c, "name1")
	requireMiss(t, c, "name2")
}

func TestNestedFetchPassesTagsThroughEveryLevel(t *testing.T) {
	c := tmplcache.New(nil)
	level := func(key, tag string, inner func(context.Context) ([]byte, error)) func(context.Context) ([]byte, error) {
		return func(ctx context.Context) ([]byte, error) {
			return c.Fetch(ctx, key, func(ctx context.Context) ([]byte, error) {
				v, err := inner(ctx)
				return append([]byte(key+">"), v...), err
			}, tmplcache.Tags(tag))
		}
	}
	top := level("a", "ta", level("b", "tb", level("c", "tc", value("leaf"))))
	v, err := top(bg)
	require.NoError(t, err)
	require.Equal(t, "a>b>c>leaf", string(v))

	require.NoError(t, c.InvalidateTags(bg, "tc"))
	requireMiss(t, c, "a")
	requireMiss(t, c, "b")
	requireMiss(t, c, "c")
}

func TestDetachAndIgnoreDescendants(t *testing.T) {
	t.Run("a detached call does not pass its tags up", func(t *testing.T) {
		c := tmplcache.New(nil)
		_, err := c.Fetch(bg, "outer", func(ctx context.Context) ([]byte, error) {
			return c.Fetch(tmplcache.Detach(ctx), "inner", value("x"), tmplcache.Tags("inner"))
		}, tmplcache.Tags("outer"))
		require.NoError(t, err)
		require.NoError(t, c.InvalidateTags(bg, "inner"))
		requireHit(t, c, "outer", "x")
		requireMiss(t, c, "inner")
	})
	t.Run("a cache that ignores descendants keeps outer entries", func(t *testing.T) {
		c := tmplcache.New(nil, tmplcache.WithIgnoreDescendants())
		_, err := c.Fetch(bg, "outer", func(ctx context.Context) ([]byte, error) {
			return c.Fetch(ctx, "inner", value("x"), tmplcache.Tags("inner"))
		}, tmplcache.Tags("outer"))
		require.NoError(t, err)
		require.NoError(t, c.InvalidateTags(bg, "inner"))
		requireHit(t, c, "outer", "x")
	})
}

func TestAddTagsAndPrevent(t *testing.T) {
	t.Run("tags added mid-fill invalidate the entry", func(t *testing.T) {
		c := tmplcache.New(nil)
		_, err := c.Fetch(bg, "k", func(ctx context.Context) ([]byte, error) {
			tmplcache.AddTags(ctx, "new_tag1")
			tmplcache.AddTags(ctx, "new_tag2", "new_tag3")
			return []byte("v"), nil
		}, tmplcache.Tags("base"))
		require.NoError(t, err)
		requireHit(t, c, "k", "v")
		require.NoError(t, c.InvalidateTags(bg, "new_tag3"))
		requireMiss(t, c, "k")
	})
	t.Run("prevent stores neither the entry nor its ancestors", func(t *testing.T) {
		c := tmplcache.New(nil)
		v, err := c.Fetch(bg, "outer", func(ctx context.Context) ([]byte, error) {
			sibling, _ := c.Fetch(ctx, "sibling", value("s"))
			inner, err := c.Fetch(ctx, "inner", func(ctx context.Context) ([]byte, error) {
				tmplcache.Prevent(ctx)
				return []byte("per-user"), nil
			})
			return append(sibling, inner...), err
		})
		require.NoError(t, err)
		require.Equal(t, "sper-user", string(v), "a prevented value is still returned")
		requireMiss(t, c, "inner")
		requireMiss(t, c, "outer")
		requireHit(t, c, "sibling", "s")
		require.EqualValues(t, 2, c.Stats().Prevented)
	})
	t.Run("a tracking scope collects every tag and the prevention", func(t *testing.T) {
		c := tmplcache.New(nil)
		ctx, scope := c.Track(bg)
		_, err := c.Fetch(ctx, "a", value("a"), tmplcache.Tags("ta"))
		require.NoError(t, err)
		tmplcache.AddTags(ctx, "page")
		require.NoError(t, c.Set(bg, "b", []byte("b"), tmplcache.Tags("tb1", "tb2")))
		_, _, err = c.Get(ctx, "b") // a hit reports its tags too
		require.NoError(t, err)
		require.Equal(t, []string{"page", "ta", "tb1", "tb2"}, scope.Tags())
		require.False(t, scope.Prevented())
		tmplcache.Prevent(ctx)
		require.True(t, scope.Prevented())
	})
}

func TestFillErrorStoresNothing(t *testing.T) {
	c := tmplcache.New(nil)
	boom := errors.New("template failed")
	_, err := c.Fetch(bg, "outer", func(ctx context.Context) ([]byte, error) {
		_, err := c.Fetch(ctx, "inner", func(context.Context) ([]byte, error) { return []byte("partial"), boom })
		return []byte("outer"), err
	})
	require.ErrorIs(t, err, boom)
	requireMiss(t, c, "inner")
	requireMiss(t, c, "outer")
	require.Zero(t, c.Stats().Stores)

	t.Run("a panicking fill releases the key for the next caller", func(t *testing.T) {
		require.Panics(t, func() {
			_, _ = c.Fetch(bg, "p", func(context.Context) ([]byte, error) { panic("fill bug") })
		})
		v, err := c.Fetch(bg, "p", value("ok"))
		require.NoError(t, err)
		require.Equal(t, "ok", string(v))
	})
}

func TestValuesAreTheCallersOwn(t *testing.T) {
	c := tmplcache.New(nil)
	src := []byte("original")
	require.NoError(t, c.Set(bg, "k", src))
	src[0] = 'X'
	v, _, _ := c.Get(bg, "k")
	v[1] = 'Y'
	requireHit(t, c, "k", "original")
}

func TestOddKeysAndTags(t *testing.T) {
	c := tmplcache.New(nil)
	keys := []string{"with space", "nul\x00byte", "ключ", strings.Repeat("k", 10_000), "e:looks-like-a-prefix", "t:too"}
	for i, k := range keys {
		require.NoError(t, c.Set(bg, k, []byte{byte('0' + i)}, tmplcache.Tags(k[:min(len(k), 100)], "tag with space\n")))
	}
	for i, k := range keys {
		requireHit(t, c, k, string(rune('0'+i)))
	}
	require.NoError(t, c.InvalidateTags(bg, "tag with space\n"))
	for _, k := range keys {
		requireMiss(t, c, k)
	}
}

func TestBadInputIsAClearError(t *testing.T) {
	c := tmplcache.New(nil)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"an empty key", c.Set(bg, "", []byte("x")), tmplcache.ErrEmptyKey},
		{"an empty tag", c.Set(bg, "k", []byte("x"), tmplcache.Tags("")), tmplcache.ErrBadTag},
		{"a huge tag", c.InvalidateTags(bg, strings.Repeat("t", tmplcache.MaxTagLen+1)), tmplcache.ErrBadTag},
		{"a negative TTL", c.Set(bg, "k", []byte("x"), tmplcache.TTL(-time.Second)), tmplcache.ErrBadOption},
		{"a bad cache option", tmplcache.New(nil, tmplcache.WithTimeout(-1)).Set(bg, "k", nil), tmplcache.ErrBadOption},
	} {
		t.Run(tc.name+" is rejected", func(t *testing.T) {
			require.ErrorIs(t, tc.err, tc.want)
		})
	}
	_, err := c.Fetch(bg, "", value("x"))
	require.ErrorIs(t, err, tmplcache.ErrEmptyKey)
}

func TestMissingTagRecordInvalidates(t *testing.T) {
	store := tmplcache.NewMemoryStore()
	c := tmplcache.New(store, tmplcache.WithNamespace("app"))
	require.NoError(t, c.Set(bg, "k", []byte("v"), tmplcache.Tags("evicted")))
	requireHit(t, c, "k", "v")
	require.NoError(t, store.Delete(bg, []string{"{app/tags}:evicted"})) // as an LRU eviction would
	requireMiss(t, c, "k")
}

func TestNamespacesIsolateApps(t *testing.T) {
	store := tmplcache.NewMemoryStore()
	a := tmplcache.New(store, tmplcache.WithNamespace("a"))
	b := tmplcache.New(store, tmplcache.WithNamespace("b"))
	require.NoError(t, a.Set(bg, "k", []byte("from a"), tmplcache.Tags("t")))
	require.NoError(t, b.Set(bg, "k", []byte("from b"), tmplcache.Tags("t")))
	require.NoError(t, b.InvalidateTags(bg, "t"))
	requireHit(t, a, "k", "from a")
	requireMiss(t, b, "k")
}

func TestTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := tmplcache.New(nil, tmplcache.WithDefaultTTL(time.Hour))
		require.NoError(t, c.Set(bg, "short", []byte("s"), tmplcache.TTL(time.Minute)))
		require.NoError(t, c.Set(bg, "default", []byte("d")))
		time.Sleep(59 * time.Second)
		requireHit(t, c, "short", "s")
		time.Sleep(2 * time.Second)
		requireMiss(t, c, "short")
		requireHit(t, c, "default", "d")
		time.Sleep(time.Hour)
		requireMiss(t, c, "default")
	})
}

func TestDelete(t *testing.T) {
	c := tmplcache.New(nil)
	require.NoError(t, c.Set(bg, "k", []byte("v")))
	require.NoError(t, c.Delete(bg, "k"))
	requireMiss(t, c, "k")
}

func TestSharedReflectsTheStore(t *testing.T) {
	require.False(t, tmplcache.New(nil).Shared())
	require.True(t, tmplcache.New(storefake.New()).Shared())
}

// A hit's Age is how old its value was when Begin read it, by the cache's
// clock; a miss has none.
func TestBuildAge(t *testing.T) {
	clk := newFakeClock()
	c := tmplcache.New(nil, tmplcache.WithClock(clk))
	b, err := c.Begin(bg, "k")
	require.NoError(t, err)
	require.False(t, b.Hit())
	require.Zero(t, b.Age())
	require.NoError(t, b.End(bg, []byte("v")))
	clk.Add(90 * time.Second)
	b, err = c.Begin(bg, "k")
	require.NoError(t, err)
	require.True(t, b.Hit())
	require.Equal(t, 90*time.Second, b.Age())
	require.NoError(t, b.End(bg, nil))
}

// CheckTag is the rule every call applies to each tag.
func TestCheckTag(t *testing.T) {
	require.NoError(t, tmplcache.CheckTag("post:1"))
	require.NoError(t, tmplcache.CheckTag(strings.Repeat("t", tmplcache.MaxTagLen)))
	require.ErrorIs(t, tmplcache.CheckTag(""), tmplcache.ErrBadTag)
	err := tmplcache.CheckTag(strings.Repeat("t", tmplcache.MaxTagLen+1))
	require.ErrorIs(t, err, tmplcache.ErrBadTag)
	require.Less(t, len(err.Error()), 200, "the tag is cut short in the message")
}
