package redisstore

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// names returns the names of the commands fn sent, sorted.
func (l *commandLog) names(fn func()) []string {
	l.mu.Lock()
	n := len(l.cmds)
	l.mu.Unlock()
	fn()
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for _, args := range l.cmds[n:] {
		names = append(names, strings.ToLower(fmt.Sprint(args[0])))
	}
	slices.Sort(names)
	return names
}

// Once the store has read an entry, a hit reads it and the records it
// names in one pipeline, with no script: a GET and an MGET, on one server
// as on a Cluster (one round trip there too, to two nodes at once). An
// entry rebuilt with other tags is read right all the same (the pipeline
// finds it names other records and the store reads again), and its new
// tags are the ones that invalidate it.
func TestKnownEntriesAreReadWithoutTheScript(t *testing.T) {
	for _, b := range []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"redis", func(t *testing.T) redis.UniversalClient { return realClient(t) }},
		{"miniredis", func(t *testing.T) redis.UniversalClient { c, _ := miniClient(t); return c }},
		{"a cluster", func(t *testing.T) redis.UniversalClient { return clusterClient(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			rt, cmds := countRoundTrips(c), logCommands(c)
			cache := tmplcache.New(New(c), tmplcache.WithNamespace(namespace(t, c)), tmplcache.WithTimeout(5*time.Second))
			ctx := testCtx(t)
			hit := func(want string) {
				t.Helper()
				v, ok, err := cache.Get(ctx, "k")
				require.NoError(t, err)
				require.True(t, ok)
				require.Equal(t, want, string(v))
			}
			require.NoError(t, cache.Set(ctx, "k", []byte("v1"), tmplcache.Tags("a", "b")))
			hit("v1")
			hit("v1") // warm: the script is known to the server, the records to the store
			require.Equal(t, int64(1), rt.during(func() {
				require.Equal(t, []string{"get", "mget"}, cmds.names(func() { hit("v1") }))
			}), "a known entry's hit")

			// Rebuilt with other tags: one more read finds them.
			require.NoError(t, cache.Set(ctx, "k", []byte("v2"), tmplcache.Tags("b", "c", "d")))
			hit("v2")
			require.Equal(t, []string{"get", "mget"}, cmds.names(func() { hit("v2") }))
			require.NoError(t, cache.InvalidateTags(ctx, "a"))
			hit("v2") // a is none of its tags any more
			require.NoError(t, cache.InvalidateTags(ctx, "d"))
			_, ok, err := cache.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, ok, "invalidating a tag the entry gained kept it")

			// Gone: a miss, in the one pipeline.
			require.NoError(t, cache.Delete(ctx, "k"))
			_, ok, err = cache.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, ok)
		})
	}
}

// A build's read through the pipeline brings the values it asks for along,
// in its order, a key the entry also names read once, a missing key nil:
// what the entry script brings.
func TestKnownEntriesBringTheBuildsValues(t *testing.T) {
	c := realClient(t)
	s := New(c)
	ns := namespace(t, c)
	cache := tmplcache.New(s, tmplcache.WithNamespace(ns), tmplcache.WithTimeout(5*time.Second))
	ctx := testCtx(t)
	require.NoError(t, cache.InvalidateTags(ctx, "z")) // the namespace's clock starts
	require.NoError(t, cache.Set(ctx, "k", []byte("v"), tmplcache.Tags("a", "b")))
	entryKey := ns + ":e:k"
	rec := func(tag string) string { return "{" + ns + "/tags}:" + tag }
	also := []string{rec("b"), rec("x"), rec("a"), "{" + ns + "/tags}#clock"}

	first, recs1, vals1, err := s.GetEntryWith(ctx, entryKey, nil, also)
	require.NoError(t, err)
	cmds := logCommands(c)
	var viaPipe []byte
	var recs2, vals2 [][]byte
	require.Equal(t, []string{"get", "mget"}, cmds.names(func() {
		viaPipe, recs2, vals2, err = s.GetEntryWith(ctx, entryKey, nil, also)
	}))
	require.NoError(t, err)
	require.Equal(t, first, viaPipe)
	require.Equal(t, recs1, recs2)
	require.Len(t, vals2, len(also))
	if vals1 != nil { // (the entry script would spare a likely hit the values)
		require.Equal(t, vals1, vals2)
	}
	require.Equal(t, recs2[1], vals2[0], "b's record")
	require.Nil(t, vals2[1], "x has no record")
	require.Equal(t, recs2[0], vals2[2], "a's record")
	require.NotNil(t, vals2[3], "the clock")
}
