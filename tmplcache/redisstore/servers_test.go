package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachetagging/cachetagging/internal/testserver"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
)

func clusterAddrs() []string {
	if a := os.Getenv("REDIS_CLUSTER_ADDRS"); a != "" {
		return strings.Split(a, ",")
	}
	return []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}
}

// realClient returns a client of the shared Redis (REDIS_ADDR). Other
// packages' tests use it at the same time: use a namespace of your own and
// never flush it.
func realClient(t testing.TB) *redis.Client {
	t.Helper()
	if _, err := probe(testserver.RedisAddr(), "ping"); err != nil {
		testserver.Unavailable(t, "redis at "+testserver.RedisAddr(), err)
	}
	c := redis.NewClient(&redis.Options{Addr: testserver.RedisAddr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// probe sends one command to addr, once: no retries, no waiting.
func probe(addr string, args ...any) (any, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Do(ctx, args...).Result()
}

// clusterClient returns a client of the shared Redis Cluster
// (REDIS_CLUSTER_ADDRS), once every node answers and reports the cluster ok.
func clusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	for _, addr := range clusterAddrs() {
		info, err := probe(addr, "cluster", "info")
		if err == nil && !strings.Contains(fmt.Sprint(info), "cluster_state:ok") {
			err = fmt.Errorf("cluster_state is not ok")
		}
		if err != nil {
			testserver.Unavailable(t, "redis cluster node "+addr, err)
		}
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// miniClient returns a client of a fresh miniredis whose TTLs follow the
// wall clock, as a real server's do.
func miniClient(t testing.TB) (*redis.Client, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.ClockTTL(true)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c, mr
}

// namespace returns a tmplcache namespace no other test uses, and deletes
// its keys when the test ends.
func namespace(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	ns := fmt.Sprintf("redisstore-test-%016x", rand.Uint64())
	t.Cleanup(func() {
		deletePrefix(t, c, ns+":")
		deletePrefix(t, c, "{"+ns+"/tags}") // tag records and the clock
	})
	return ns
}

// deletePrefix deletes the keys that start with prefix (no glob
// characters), on every master of a cluster.
func deletePrefix(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		pipe := c.Pipeline()
		for iter.Next(ctx) {
			pipe.Unlink(ctx, iter.Val()) // one key each: a cluster node rejects cross-slot UNLINK
			if pipe.Len() == 1000 {
				if _, err := pipe.Exec(ctx); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, del)
	case *redis.Client:
		err = del(ctx, c)
	default:
		err = fmt.Errorf("cannot scan a %T", c)
	}
	if err != nil {
		t.Logf("cleanup of %s*: %v", prefix, err)
	}
}

// tracked wraps a store on a shared server for storetest.Run: it remembers
// every key written through it and deletes them when the test ends, since
// storetest picks its own key prefixes.
type tracked struct {
	*Store
	mu   sync.Mutex
	keys map[string]struct{}
}

func track(t testing.TB, s *Store) *tracked {
	ts := &tracked{Store: s, keys: map[string]struct{}{}}
	t.Cleanup(func() {
		ts.mu.Lock()
		keys := make([]string, 0, len(ts.keys))
		for k := range ts.keys {
			keys = append(keys, k)
		}
		ts.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Delete(ctx, keys); err != nil {
			t.Logf("cleanup of %d keys: %v", len(keys), err)
		}
	})
	return ts
}

func (ts *tracked) note(items []tmplcache.Item) {
	ts.mu.Lock()
	for _, it := range items {
		ts.keys[it.Key] = struct{}{}
	}
	ts.mu.Unlock()
}

func (ts *tracked) Set(ctx context.Context, items []tmplcache.Item) error {
	ts.note(items)
	return ts.Store.Set(ctx, items)
}

func (ts *tracked) Add(ctx context.Context, items []tmplcache.Item) error {
	ts.note(items)
	return ts.Store.Add(ctx, items)
}

// roundTrips counts network exchanges: one per command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func countRoundTrips(c redis.UniversalClient) *roundTrips {
	h := &roundTrips{}
	c.AddHook(h)
	return h
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// during returns the round trips fn made.
func (h *roundTrips) during(fn func()) int64 {
	before := h.n.Load()
	fn()
	return h.n.Load() - before
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func fillWith(v string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return []byte(v), nil }
}

func (ts *tracked) SetIfUnchanged(ctx context.Context, item tmplcache.Item, keys []string, vals [][]byte) (bool, error) {
	ts.note([]tmplcache.Item{item})
	return ts.Store.SetIfUnchanged(ctx, item, keys, vals)
}
