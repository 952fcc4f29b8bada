package tmplcache_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/internal/storefake"
)

// On a shared store the cache reads an entry, then its records, the first
// time, and from then on both with one Store.Get. An entry rebuilt with
// other tags is read right (the Get finds records it did not read: the
// cache reads again and learns), and its new tags invalidate it.
func TestKnownEntriesAreOneRead(t *testing.T) {
	store := storefake.New() // shared, and no EntryGetter: the plain path
	c := tmplcache.New(store)
	reads := func(want string) int64 {
		t.Helper()
		before := store.Calls.Load()
		v, ok, err := c.Get(bg, "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want, string(v))
		return store.Calls.Load() - before
	}
	require.NoError(t, c.Set(bg, "k", []byte("v1"), tmplcache.Tags("a", "b")))
	require.EqualValues(t, 2, reads("v1"), "the first read: the entry, then its records")
	require.EqualValues(t, 1, reads("v1"), "a known entry: one Get")

	require.NoError(t, c.Set(bg, "k", []byte("v2"), tmplcache.Tags("b", "c", "d")))
	require.EqualValues(t, 3, reads("v2"), "records it did not read: the known Get, then the usual two")
	require.EqualValues(t, 1, reads("v2"))
	require.NoError(t, c.InvalidateTags(bg, "a"))
	reads("v2") // a is none of its tags any more
	require.NoError(t, c.InvalidateTags(bg, "d"))
	_, ok, err := c.Get(bg, "k")
	require.NoError(t, err)
	require.False(t, ok, "invalidating a tag the entry gained kept it")

	require.NoError(t, c.Delete(bg, "k"))
	before := store.Calls.Load()
	_, ok, err = c.Get(bg, "k")
	require.NoError(t, err)
	require.False(t, ok)
	require.EqualValues(t, 1, store.Calls.Load()-before, "a known key's miss: one Get")
}
