// Package storetest is a conformance suite for [tmplcache.Store]
// implementations, in the spirit of testing/fstest. Among other things a
// store must round-trip keys of any bytes and length and values of at least
// 1 MiB (a whole cached page), whatever its server's item limit. A store
// passes when
//
//	storetest.Run(t, func(t *testing.T) tmplcache.Store { return newMyStore(t) })
//
// passes. Every subtest uses keys of its own (random prefixes), so the
// factory may return stores that share one server. The TTL test waits for
// real expiry: a fake server must let time pass (miniredis: ClockTTL).
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) tmplcache.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s tmplcache.Store, p string)
	}{
		{"a missing key reads as nil without error", testMissing},
		{"get returns what set stored, in key order", testSetGet},
		{"set overwrites", testOverwrite},
		{"add stores only absent keys", testAdd},
		{"delete removes keys and ignores missing ones", testDelete},
		{"keys of any bytes and length are distinct and safe", testOddKeys},
		{"values of any bytes round-trip", testOddValues},
		{"a TTL expires the item and zero means none", testTTL},
		{"concurrent use is safe", testConcurrent},
		{"entry reads return the entry and its tag records", testEntryGetter},
		{"prefetching reads bring values along, and checked writes check them", testPrefetcher},
		{"invalidations are stamped by a clock that never goes back", testSequencer},
		{"concurrent invalidations of one tag leave the latest stamp", testSequencerRace},
		{"a cache over the store invalidates by tag", testCache},
		{"a build whose tag is invalidated while it runs is not stored", testInvalidatedWhileBuilding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t), fmt.Sprintf("storetest:%x:", rand.Uint64()))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func set(t *testing.T, s tmplcache.Store, items ...tmplcache.Item) {
	t.Helper()
	require.NoError(t, s.Set(ctx(t), items))
}

func get(t *testing.T, s tmplcache.Store, keys ...string) [][]byte {
	t.Helper()
	vals, err := s.Get(ctx(t), keys)
	require.NoError(t, err)
	require.Len(t, vals, len(keys))
	return vals
}

func testMissing(t *testing.T, s tmplcache.Store, p string) {
	vals := get(t, s, p+"a", p+"b")
	require.Nil(t, vals[0])
	require.Nil(t, vals[1])
	vals, err := s.Get(ctx(t), nil)
	require.NoError(t, err)
	require.Empty(t, vals)
}

func testSetGet(t *testing.T, s tmplcache.Store, p string) {
	set(t, s, tmplcache.Item{Key: p + "a", Value: []byte("1")}, tmplcache.Item{Key: p + "c", Value: []byte("3")})
	vals := get(t, s, p+"c", p+"b", p+"a")
	require.Equal(t, []byte("3"), vals[0])
	require.Nil(t, vals[1])
	require.Equal(t, []byte("1"), vals[2])
}

func testOverwrite(t *testing.T, s tmplcache.Store, p string) {
	set(t, s, tmplcache.Item{Key: p + "k", Value: []byte("old")})
	set(t, s, tmplcache.Item{Key: p + "k", Value: []byte("new")})
	require.Equal(t, []byte("new"), get(t, s, p+"k")[0])
}

func testAdd(t *testing.T, s tmplcache.Store, p string) {
	set(t, s, tmplcache.Item{Key: p + "present", Value: []byte("kept")})
	require.NoError(t, s.Add(ctx(t), []tmplcache.Item{
		{Key: p + "present", Value: []byte("clobbered")},
		{Key: p + "absent", Value: []byte("added")},
	}))
	vals := get(t, s, p+"present", p+"absent")
	require.Equal(t, []byte("kept"), vals[0])
	require.Equal(t, []byte("added"), vals[1])
}

func testDelete(t *testing.T, s tmplcache.Store, p string) {
	set(t, s, tmplcache.Item{Key: p + "a", Value: []byte("1")}, tmplcache.Item{Key: p + "b", Value: []byte("2")})
	require.NoError(t, s.Delete(ctx(t), []string{p + "a", p + "never"}))
	vals := get(t, s, p+"a", p+"b")
	require.Nil(t, vals[0])
	require.Equal(t, []byte("2"), vals[1])
}

func testOddKeys(t *testing.T, s tmplcache.Store, p string) {
	keys := []string{
		p + "with space", p + "with\nnewline", p + "with\x00nul", p + "ünïcødé",
		p + strings.Repeat("long", 300), p + strings.Repeat("long", 300) + "x",
		p + "{hash}tag", p + "\xff\xfe",
	}
	items := make([]tmplcache.Item, len(keys))
	for i, k := range keys {
		items[i] = tmplcache.Item{Key: k, Value: []byte(fmt.Sprint(i))}
	}
	set(t, s, items...)
	for i, v := range get(t, s, keys...) {
		require.Equal(t, []byte(fmt.Sprint(i)), v, "key %q", keys[i])
	}
}

func testOddValues(t *testing.T, s tmplcache.Store, p string) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	bin := []byte{0, 1, 2, 0xff, '\r', '\n', 0}
	set(t, s, tmplcache.Item{Key: p + "big", Value: big}, tmplcache.Item{Key: p + "bin", Value: bin})
	vals := get(t, s, p+"big", p+"bin")
	require.True(t, bytes.Equal(big, vals[0]), "1 MiB value differs")
	require.Equal(t, bin, vals[1])
}

func testTTL(t *testing.T, s tmplcache.Store, p string) {
	// Two seconds: servers that count whole seconds (memcached) may end a
	// one-second item at once.
	set(t, s, tmplcache.Item{Key: p + "short", Value: []byte("x"), TTL: 2 * time.Second},
		tmplcache.Item{Key: p + "forever", Value: []byte("y")})
	require.NoError(t, s.Add(ctx(t), []tmplcache.Item{{Key: p + "added", Value: []byte("z"), TTL: 2 * time.Second}}))
	require.NotNil(t, get(t, s, p+"short")[0], "an item must live until its TTL")
	// Expiry is the server's business and takes real time: poll for it.
	require.Eventually(t, func() bool {
		v := get(t, s, p+"short", p+"added")
		return v[0] == nil && v[1] == nil
	}, 6*time.Second, 50*time.Millisecond, "items with a 2s TTL must expire")
	require.Equal(t, []byte("y"), get(t, s, p+"forever")[0])
}

func testConcurrent(t *testing.T, s tmplcache.Store, p string) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := fmt.Sprintf("%sk%d", p, i%5)
				v := []byte(fmt.Sprintf("%d-%d", g, i))
				if err := s.Set(context.Background(), []tmplcache.Item{{Key: k, Value: v}}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Get(context.Background(), []string{k, p + "other"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, v := range get(t, s, p+"k0", p+"k4") {
		require.NotNil(t, v)
	}
}

func testEntryGetter(t *testing.T, s tmplcache.Store, p string) {
	eg, ok := s.(tmplcache.EntryGetter)
	if !ok {
		return // optional: the cache falls back to two reads
	}
	c := tmplcache.New(s, tmplcache.WithNamespace(p), patient)
	require.NoError(t, c.Set(ctx(t), "k", []byte("v"), tmplcache.Tags("a", "b")))
	require.NoError(t, c.Set(ctx(t), "untagged", []byte("u")))

	entry, recs, err := eg.GetEntry(ctx(t), p+":e:k", nil)
	require.NoError(t, err)
	keys, err := tmplcache.EntryTagKeys(entry)
	require.NoError(t, err)
	require.Equal(t, []string{"{" + p + "/tags}:a", "{" + p + "/tags}:b"}, keys)
	require.Equal(t, get(t, s, keys...), recs)

	entry, recs, err = eg.GetEntry(ctx(t), p+":e:untagged", nil)
	require.NoError(t, err)
	require.NotNil(t, entry)
	require.Empty(t, recs)

	entry, recs, err = eg.GetEntry(ctx(t), p+":e:missing", nil)
	require.NoError(t, err)
	require.Nil(t, entry)
	require.Nil(t, recs)

	require.NoError(t, s.Delete(ctx(t), []string{"{" + p + "/tags}:b"}))
	_, recs, err = eg.GetEntry(ctx(t), p+":e:k", nil)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.NotNil(t, recs[0])
	require.Nil(t, recs[1], "a missing tag record reads as nil")
}

func testPrefetcher(t *testing.T, s tmplcache.Store, p string) {
	pf, ok := s.(tmplcache.Prefetcher)
	if !ok || !pf.Prefetches() {
		return // optional: the cache reads a build's records before its write
	}
	c := tmplcache.New(s, tmplcache.WithNamespace(p), patient)
	require.NoError(t, c.Set(ctx(t), "k", []byte("v"), tmplcache.Tags("a", "b")))
	set(t, s, tmplcache.Item{Key: p + "x", Value: []byte("x1")})
	also := []string{p + "x", p + "absent"}

	entry, recs, vals, err := pf.GetEntryWith(ctx(t), p+":e:k", nil, also)
	require.NoError(t, err)
	wantEntry, wantRecs, err := pf.GetEntry(ctx(t), p+":e:k", nil)
	require.NoError(t, err)
	require.Equal(t, wantEntry, entry)
	require.Equal(t, wantRecs, recs)
	if vals != nil { // a valid entry may spare its hits the reads
		require.Equal(t, [][]byte{[]byte("x1"), nil}, vals)
	}

	require.NoError(t, c.InvalidateTags(ctx(t), "b"))
	entry, recs, vals, err = pf.GetEntryWith(ctx(t), p+":e:k", nil, also)
	require.NoError(t, err)
	wantEntry, wantRecs, err = pf.GetEntry(ctx(t), p+":e:k", nil)
	require.NoError(t, err)
	require.Equal(t, wantEntry, entry)
	require.Equal(t, wantRecs, recs)
	require.Equal(t, [][]byte{[]byte("x1"), nil}, vals, "an invalidated entry brings the values along")

	entry, recs, vals, err = pf.GetEntryWith(ctx(t), p+":e:missing", nil, also)
	require.NoError(t, err)
	require.Nil(t, entry)
	require.Empty(t, recs)
	require.Equal(t, [][]byte{[]byte("x1"), nil}, vals, "a missing entry brings the values along too")

	item := tmplcache.Item{Key: p + "y", Value: []byte("y1"), TTL: time.Hour}
	stored, err := pf.SetIfUnchanged(ctx(t), item, also, [][]byte{[]byte("x1"), nil})
	require.NoError(t, err)
	require.True(t, stored, "unchanged values: stored")
	require.Equal(t, [][]byte{[]byte("y1")}, get(t, s, p+"y"))

	set(t, s, tmplcache.Item{Key: p + "x", Value: []byte("x2")})
	item.Value = []byte("y2")
	stored, err = pf.SetIfUnchanged(ctx(t), item, also, [][]byte{[]byte("x1"), nil})
	require.NoError(t, err)
	require.False(t, stored, "a changed value: not stored")
	set(t, s, tmplcache.Item{Key: p + "absent", Value: []byte("now here")})
	stored, err = pf.SetIfUnchanged(ctx(t), item, also, [][]byte{[]byte("x2"), nil})
	require.NoError(t, err)
	require.False(t, stored, "a key that appeared: not stored")
	require.Equal(t, [][]byte{[]byte("y1")}, get(t, s, p+"y"), "the refused writes changed nothing")
}

func testInvalidatedWhileBuilding(t *testing.T, s tmplcache.Store, p string) {
	c := tmplcache.New(s, tmplcache.WithNamespace(p), patient)
	require.NoError(t, c.InvalidateTags(ctx(t), "t")) // the record exists
	rctx, scope := c.Track(ctx(t))
	v, err := c.Fetch(rctx, "k", func(fctx context.Context) ([]byte, error) {
		// The data changes while the build runs, after it read it.
		require.NoError(t, c.InvalidateTags(ctx(t), "t"))
		return []byte("old"), nil
	}, tmplcache.Tags("t"))
	require.NoError(t, err)
	require.Equal(t, "old", string(v))
	require.NoError(t, scope.End(rctx, nil))
	_, ok, err := c.Get(ctx(t), "k")
	require.NoError(t, err)
	require.False(t, ok, "built from data older than an invalidation: never served")
	require.Zero(t, c.Stats().Stores, "and not stored")
}

// patient keeps a loaded test machine from turning a slow call into a
// store error the cache would swallow (and the test misread).
var patient = tmplcache.WithTimeout(10 * time.Second)

func testCache(t *testing.T, s tmplcache.Store, p string) {
	c := tmplcache.New(s, tmplcache.WithNamespace(p), patient)
	fill := func(v string) func(context.Context) ([]byte, error) {
		return func(context.Context) ([]byte, error) { return []byte(v), nil }
	}
	outer := func(ctx context.Context) ([]byte, error) {
		inner, err := c.Fetch(ctx, "inner", fill("in"), tmplcache.Tags("inner-tag"))
		return append([]byte("out+"), inner...), err
	}
	v, err := c.Fetch(ctx(t), "outer", outer, tmplcache.Tags("outer-tag"))
	require.NoError(t, err)
	require.Equal(t, "out+in", string(v))

	got, ok, err := c.Get(ctx(t), "outer")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "out+in", string(got))

	require.NoError(t, c.InvalidateTags(ctx(t), "inner-tag"))
	_, ok, err = c.Get(ctx(t), "inner")
	require.NoError(t, err)
	require.False(t, ok, "the inner entry must be invalid")
	_, ok, err = c.Get(ctx(t), "outer")
	require.NoError(t, err)
	require.False(t, ok, "the outer entry must be invalid through the inner tag")
}
