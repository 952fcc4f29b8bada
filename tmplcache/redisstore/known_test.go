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

// Once a cache has read an entry, a hit reads it and the records it names
// with one Store.Get, with no script: one MGET on one server, one pipeline
// on a Cluster (one round trip there too, to two nodes at once), also
// after the entry was rebuilt with other tags and read once (what is read
// then: tmplcache's TestKnownEntriesAreOneRead).
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
				require.NotContains(t, cmds.names(func() { hit("v1") }), "evalsha")
			}), "a known entry's hit")

			// Rebuilt with other tags: one more read finds them.
			require.NoError(t, cache.Set(ctx, "k", []byte("v2"), tmplcache.Tags("b", "c", "d")))
			hit("v2")
			require.Equal(t, int64(1), rt.during(func() {
				require.NotContains(t, cmds.names(func() { hit("v2") }), "evalsha")
			}))
		})
	}
}
