package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/storetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestClusterConformance(t *testing.T) {
	c := clusterClient(t)
	storetest.Run(t, func(t *testing.T) tmplcache.Store { return track(t, New(c)) })
}

// commandLog records the arguments of every command a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds [][]any
}

func logCommands(c redis.UniversalClient) *commandLog {
	l := &commandLog{}
	c.AddHook(l)
	return l
}

func (l *commandLog) add(cmds ...redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cmds {
		l.cmds = append(l.cmds, c.Args())
	}
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.add(cmds...)
		return next(ctx, cmds)
	}
}

// clusterWorkload drives a cache and a store the way a site does, with
// keys spread over many slots.
func clusterWorkload(t *testing.T, s *Store, ns string) {
	ctx := testCtx(t)
	cache := tmplcache.New(s, tmplcache.WithNamespace(ns), tmplcache.WithTimeout(5*time.Second))
	outer := func(ctx context.Context) ([]byte, error) {
		inner, err := cache.Fetch(ctx, "inner", fillWith("in"), tmplcache.Tags("f", "g"))
		return append([]byte("out+"), inner...), err
	}
	v, err := cache.Fetch(ctx, "outer", outer, tmplcache.Tags("a", "b", "c", "d", "e"))
	require.NoError(t, err)
	require.Equal(t, "out+in", string(v))
	for _, k := range []string{"outer", "inner"} {
		_, ok, err := cache.Get(ctx, k)
		require.NoError(t, err)
		require.True(t, ok, k)
	}
	require.NoError(t, cache.InvalidateTags(ctx, "g", "x", "y"))
	for _, k := range []string{"outer", "inner"} {
		_, ok, err := cache.Get(ctx, k)
		require.NoError(t, err)
		require.False(t, ok, "%s must be invalid after its tag (or its inner entry's) was invalidated", k)
	}
	require.NoError(t, cache.Transaction(ctx, func(ctx context.Context) error {
		return cache.InvalidateTags(ctx, "a", "f")
	}))
	require.NoError(t, cache.Delete(ctx, "outer"))

	its := make([]tmplcache.Item, 20)
	for i := range its {
		its[i] = tmplcache.Item{Key: fmt.Sprintf("%s:item:%d", ns, i), Value: []byte{byte(i)}, TTL: time.Minute}
	}
	keys := keysOf(its)
	require.NoError(t, s.Set(ctx, its))
	require.NoError(t, s.Add(ctx, its))
	vals, err := s.Get(ctx, keys)
	require.NoError(t, err)
	for i, v := range vals {
		require.Equal(t, []byte{byte(i)}, v)
	}
	require.NoError(t, s.Delete(ctx, keys))
}

// commandKeys returns the keys a logged command names.
func commandKeys(t *testing.T, args []any) []string {
	name := strings.ToLower(fmt.Sprint(args[0]))
	var keys []any
	switch name {
	case "get", "del", "set":
		keys = args[1:2]
	case "mget":
		keys = args[1:]
	case "evalsha", "eval":
		n, ok := args[2].(int)
		require.True(t, ok, "%v: numkeys", args)
		keys = args[3 : 3+n]
	default:
		t.Fatalf("%v: unexpected command", args)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprint(k)
	}
	return out
}

// Every command the store sends a cluster names keys of one slot: entries
// spread over the cluster, the tag records and the clock share the
// cache's hash tag.
func TestClusterSendsNoCrossSlotCommand(t *testing.T) {
	c := clusterClient(t)
	ns := namespace(t, c)
	log := logCommands(c)
	clusterWorkload(t, New(c), ns)

	ctx := testCtx(t)
	masters := map[string]bool{}
	log.mu.Lock()
	cmds := log.cmds // the checks below send commands through the hook
	log.mu.Unlock()
	require.NotEmpty(t, cmds)
	for _, args := range cmds {
		if n := strings.ToLower(fmt.Sprint(args[0])); n == "cluster" {
			break // the checks' own commands
		}
		keys := commandKeys(t, args)
		require.NotEmpty(t, keys, "%v", args)
		slot := int64(-1)
		for _, key := range keys {
			require.True(t, strings.HasPrefix(key, ns+":") || strings.HasPrefix(key, "{"+ns+"/tags}"),
				"key %q outside the test's namespace", key)
			s, err := c.ClusterKeySlot(ctx, key).Result()
			require.NoError(t, err)
			if slot >= 0 {
				require.Equal(t, slot, s, "%v crosses slots", args)
			}
			slot = s
		}
		node, err := c.MasterForKey(ctx, keys[0])
		require.NoError(t, err)
		masters[node.Options().Addr] = true
	}
	require.Greater(t, len(masters), 1, "the workload must reach several masters to prove anything")
}

// The cluster really rejects what a single server takes (the entry script,
// MGET across slots): keeping every command in one slot is what keeps the
// errors away, not luck.
func TestClusterRejectsTheSingleNodeCommands(t *testing.T) {
	c := clusterClient(t)
	ns := namespace(t, c)
	ctx := testCtx(t)
	good := New(c)
	cache := tmplcache.New(good, tmplcache.WithNamespace(ns), tmplcache.WithTimeout(5*time.Second))
	// An entry on another node than the tag records (which share a slot):
	// the entry script cannot reach them from there.
	tagNode, err := c.MasterForKey(ctx, "{"+ns+"/tags}:a")
	require.NoError(t, err)
	key := ""
	for i := 0; key == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		node, err := c.MasterForKey(ctx, ns+":e:"+k)
		require.NoError(t, err)
		if node.Options().Addr != tagNode.Options().Addr {
			key = k
		}
	}
	require.NoError(t, cache.Set(ctx, key, []byte("v"), tmplcache.Tags("a", "b", "c")))

	wrong := &Store{client: c, script: true} // what New must not build for a cluster
	_, _, err = wrong.GetEntry(ctx, ns+":e:"+key, nil)
	require.ErrorContains(t, err, "non local key")
	_, err = wrong.Get(ctx, []string{ns + ":e:a", ns + ":e:b", ns + ":e:c"})
	require.ErrorContains(t, err, "CROSSSLOT")

	entry, recs, err := good.GetEntry(ctx, ns+":e:"+key, nil)
	require.NoError(t, err)
	require.NotNil(t, entry)
	require.Len(t, recs, 3)
	for _, r := range recs {
		require.NotNil(t, r)
	}
}

func TestClusterRoundTrips(t *testing.T) {
	c := clusterClient(t)
	rt := countRoundTrips(c)
	s := New(c)
	cache := tmplcache.New(s, tmplcache.WithNamespace(namespace(t, c)), tmplcache.WithTimeout(5*time.Second))
	ctx := testCtx(t)
	tags := []string{"t1", "t2", "t3", "t4", "t5"}
	require.NoError(t, cache.Set(ctx, "one", []byte("v"), tmplcache.Tags("t1")))
	require.NoError(t, cache.Set(ctx, "five", []byte("v"), tmplcache.Tags(tags...)))
	require.NoError(t, cache.InvalidateTags(ctx, "warm-up")) // the slot's server learns the script
	for _, tc := range []struct {
		name string
		want int64
		call func(t *testing.T)
	}{
		{"a hit with one tag costs the entry's GET and its record's GET", 2, func(t *testing.T) {
			_, ok, err := cache.Get(ctx, "one")
			require.NoError(t, err)
			require.True(t, ok)
		}},
		{"a hit with five tags costs the entry's GET and one MGET", 2, func(t *testing.T) {
			_, ok, err := cache.Get(ctx, "five")
			require.NoError(t, err)
			require.True(t, ok)
		}},
		{"a tracked request's clock reading costs nothing", 0, func(t *testing.T) {
			ctx, scope := cache.Track(ctx)
			require.NoError(t, scope.End(ctx, nil))
		}},
		{"a miss costs one GET", 1, func(t *testing.T) {
			_, ok, err := cache.Get(ctx, "absent")
			require.NoError(t, err)
			require.False(t, ok)
		}},
		{"invalidating five tags costs one script", 1, func(t *testing.T) {
			require.NoError(t, cache.InvalidateTags(ctx, tags...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, rt.during(func() { tc.call(t) }))
		})
	}
}

func TestClusterThroughAUniversalClient(t *testing.T) {
	clusterClient(t) // the availability rule
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: clusterAddrs()})
	t.Cleanup(func() { _ = c.Close() })
	s := New(c)
	require.True(t, s.sharded, "NewUniversalClient with several addresses makes a cluster client")
	clusterWorkload(t, s, namespace(t, c))
}
