package tmplcache_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Peek serves exactly the reads Begin would serve as plain hits, and
// nothing else: a missing, invalidated or graced entry, or one near enough
// to its expiry for an early-recomputation draw, is left to Begin. Stats
// count each read once.
func TestPeekIsBeginsFastPath(t *testing.T) {
	clk := newFakeClock()
	c := tmplcache.New(nil, tmplcache.WithClock(clk))
	spec := c.Spec("k", tmplcache.Tags("t"), tmplcache.TTL(time.Minute), tmplcache.Grace(time.Hour))

	require.Nil(t, spec.Peek(bg), "nothing stored")
	require.Zero(t, c.Stats().Misses, "a peek counts no miss: Begin will")

	b, err := spec.Begin(bg)
	require.NoError(t, err)
	require.False(t, b.Hit())
	clk.Add(time.Second) // the build takes a second: early recomputation starts 37 s before expiry
	require.NoError(t, b.End(bg, []byte("v")))
	require.Equal(t, uint64(1), c.Stats().Misses)

	hit := spec.Peek(bg)
	require.NotNil(t, hit)
	require.True(t, hit.Hit())
	require.Equal(t, "v", string(hit.Value()))
	require.NoError(t, hit.End(bg, nil))
	require.Equal(t, uint64(1), c.Stats().Hits)

	clk.Add(time.Minute - 30*time.Second) // 30 s left: a draw could rebuild
	require.Nil(t, spec.Peek(bg), "near expiry Begin draws")
	require.Equal(t, uint64(1), c.Stats().Hits, "a declined peek counts nothing")

	clk.Add(-time.Minute + 30*time.Second)
	require.NoError(t, c.InvalidateTags(bg, "t"))
	require.Nil(t, spec.Peek(bg), "an invalidated entry, even within its grace, is Begin's")
	leader, err := spec.Begin(bg)
	require.NoError(t, err)
	require.False(t, leader.Hit(), "Begin: one reader rebuilds")
	other, err := spec.Begin(bg)
	require.NoError(t, err)
	require.True(t, other.Hit(), "Begin: the others are served within the grace")
	require.Nil(t, spec.Peek(bg), "still Begin's while it rebuilds")
	require.NoError(t, other.End(bg, nil))
	leader.Abort()

	bad := c.Spec("", tmplcache.Tags("t"))
	require.Nil(t, bad.Peek(bg), "bad input: Begin reports it")
	_, err = bad.Begin(bg)
	require.Error(t, err)
}

// PeekInto reuses a Build once it ended: each peek is a hit of its own,
// whose tags reach the build enclosing it, as Peek's would; a declined
// peek leaves nothing to End.
func TestPeekIntoReusesBuild(t *testing.T) {
	c := tmplcache.New(nil)
	for _, k := range []string{"a", "b"} {
		require.NoError(t, c.Set(bg, k, []byte("value of "+k), tmplcache.Tags("tag:"+k)))
	}
	var b tmplcache.Build
	for _, k := range []string{"a", "b", "a"} {
		ctx, scope := c.Track(bg)
		require.True(t, c.Spec(k, tmplcache.Tags("tag:"+k)).PeekInto(ctx, &b), k)
		require.True(t, b.Hit())
		require.Equal(t, "value of "+k, string(b.Value()))
		require.Same(t, scope, b.Parent())
		require.NoError(t, b.End(ctx, nil))
		require.Equal(t, []string{"tag:" + k}, scope.Tags(), "the hit's tags reach the enclosing build")
		require.NoError(t, scope.End(bg, nil))
	}
	require.False(t, c.Spec("missing").PeekInto(bg, &b))
	require.Equal(t, uint64(3), c.Stats().Hits)
}

// A Spec derived with WithKey reads and builds its own key with the
// options of the Spec it came from.
func TestSpecWithKey(t *testing.T) {
	c := tmplcache.New(nil)
	base := c.Spec("base", tmplcache.Tags("t"), tmplcache.TTL(time.Minute))
	for _, k := range []string{"a", "b"} {
		s := base.WithKey(k)
		b, err := s.Begin(bg)
		require.NoError(t, err)
		require.False(t, b.Hit())
		require.NoError(t, b.End(bg, []byte("value of "+k)))
		v, ok, err := c.Get(bg, k)
		require.NoError(t, err)
		require.True(t, ok, k)
		require.Equal(t, "value of "+k, string(v))
	}
	require.NoError(t, c.InvalidateTags(bg, "t"))
	for _, k := range []string{"a", "b"} {
		_, ok, err := c.Get(bg, k)
		require.NoError(t, err)
		require.False(t, ok, "%s: the base's tag did not reach it", k)
	}
	s := base.WithKey("")
	_, err := s.Begin(bg)
	require.ErrorIs(t, err, tmplcache.ErrEmptyKey)
	bad := c.Spec("x", tmplcache.TTL(-time.Second)).WithKey("y")
	_, err = bad.Begin(bg)
	require.Error(t, err, "the base's error stays")
}
