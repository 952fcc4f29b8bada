package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/internal/testserver"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The tests below re-execute this test binary as a second OS process
// sharing the real Redis. The child runs TestCrossProcessChild with these
// variables set; in the parent that test does nothing.
const (
	childRoleEnv = "REDISSTORE_CHILD_ROLE"
	childNSEnv   = "REDISSTORE_CHILD_NAMESPACE"
	childArgEnv  = "REDISSTORE_CHILD_ARG"
	childKindEnv = "REDISSTORE_CHILD_SERVER" // "cluster" or empty
)

// stressDuration is how long the writer process of the stress test runs.
const stressDuration = 1500 * time.Millisecond

func TestCrossProcessChild(t *testing.T) {
	role := os.Getenv(childRoleEnv)
	if role == "" {
		return // run as a child process only
	}
	var c redis.UniversalClient = realClient(t)
	if os.Getenv(childKindEnv) == "cluster" {
		c = clusterClient(t)
	}
	ns := os.Getenv(childNSEnv)
	cache := tmplcache.New(New(c), tmplcache.WithNamespace(ns), tmplcache.WithTimeout(5*time.Second))
	ctx := testCtx(t)
	switch role {
	case "invalidate":
		require.NoError(t, cache.InvalidateTags(ctx, os.Getenv(childArgEnv)))
	case "fill":
		v, err := cache.Fetch(ctx, "shared", fillWith("built by process B"), tmplcache.Tags("post:2"))
		require.NoError(t, err)
		require.Equal(t, "built by process B", string(v))
	case "writers":
		stressWriters(t, c, cache, ns)
	default:
		t.Fatalf("unknown child role %q", role)
	}
}

// runChild runs the child role in a new process and waits for it.
func runChild(t *testing.T, role, ns, arg string) {
	t.Helper()
	out, err := childCommand(t, role, ns, arg, "").CombinedOutput()
	require.NoError(t, err, "child process %q:\n%s", role, out)
}

func childCommand(t *testing.T, role, ns, arg, server string) *exec.Cmd {
	cmd := exec.CommandContext(testCtx(t), os.Args[0], "-test.run=^TestCrossProcessChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		childRoleEnv+"="+role, childNSEnv+"="+ns, childArgEnv+"="+arg, childKindEnv+"="+server, "REDIS_ADDR="+testserver.RedisAddr(),
		// Under -race a process lingers a second at exit by default.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return cmd
}

func TestCrossProcessInvalidation(t *testing.T) {
	c := realClient(t)
	ns := namespace(t, c)
	cache := tmplcache.New(New(c), tmplcache.WithNamespace(ns), tmplcache.WithTimeout(5*time.Second))
	ctx := testCtx(t)

	v, err := cache.Fetch(ctx, "page", fillWith("built by process A"), tmplcache.Tags("post:1"))
	require.NoError(t, err)
	require.Equal(t, "built by process A", string(v))
	requireHit(t, cache, "page")

	runChild(t, "invalidate", ns, "post:1")
	requireMiss(t, cache, "page", "process B invalidated its tag")

	runChild(t, "fill", ns, "")
	got, ok, err := cache.Get(ctx, "shared")
	require.NoError(t, err)
	require.True(t, ok, "an entry process B stored is served to process A")
	require.Equal(t, "built by process B", string(got))
	runChild(t, "invalidate", ns, "post:2")
	requireMiss(t, cache, "shared", "process B invalidated its tag")
}

// Redis keys of the stress test, outside the cache.
func counterKey(ns string) string { return ns + ":counter" }
func floorKey(ns string) string   { return ns + ":floor" }

// raiseFloor publishes n as the floor unless a higher one is there already
// (writers finish out of order).
var raiseFloor = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`)

// stressWriters (the child) changes the data and invalidates its tag, then
// publishes the value as the floor any later read must reach.
func stressWriters(t *testing.T, c redis.UniversalClient, cache *tmplcache.Cache, ns string) {
	ctx := context.Background()
	deadline := time.Now().Add(stressDuration)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				n, err := c.Incr(ctx, counterKey(ns)).Result()
				if err != nil {
					t.Error(err)
					return
				}
				if err := cache.InvalidateTags(ctx, "counter"); err != nil {
					t.Error(err)
					return
				}
				if err := raiseFloor.Run(ctx, c, []string{floorKey(ns)}, n).Err(); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(rand.N(time.Millisecond)) // pacing: let some reads hit between writes
			}
		})
	}
	wg.Wait()
}

// The core invariant across processes: after InvalidateTags returns in one
// process, no read in another returns a value built from data read before.
func TestCrossProcessCoreInvariant(t *testing.T) {
	for _, server := range []string{"", "cluster"} {
		name := "on one server"
		if server != "" {
			name = "on a cluster"
		}
		t.Run(name, func(t *testing.T) { crossProcessStress(t, server) })
	}
}

func crossProcessStress(t *testing.T, server string) {
	var c redis.UniversalClient
	if server == "cluster" {
		c = clusterClient(t)
	} else {
		c = realClient(t)
	}
	ns := namespace(t, c)
	cache := tmplcache.New(New(c), tmplcache.WithNamespace(ns), tmplcache.WithTimeout(5*time.Second))
	getInt := func(ctx context.Context, key string) (int64, error) {
		n, err := c.Get(ctx, key).Int64()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
		return n, err
	}
	var fills atomic.Int64
	fill := func(ctx context.Context) ([]byte, error) {
		fills.Add(1)
		n, err := getInt(ctx, counterKey(ns))
		if err != nil {
			return nil, err
		}
		time.Sleep(100*time.Microsecond + rand.N(400*time.Microsecond)) // a render that takes time
		return strconv.AppendInt(nil, n, 10), nil
	}

	writer := childCommand(t, "writers", ns, "", server)
	var out lockedBuffer
	writer.Stdout, writer.Stderr = &out, &out
	require.NoError(t, writer.Start())
	writerDone := make(chan error, 1)
	go func() { writerDone <- writer.Wait() }()

	var reads, stale atomic.Int64
	var firstStale atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				floor, err := getInt(ctx, floorKey(ns))
				if err != nil {
					t.Error(err)
					return
				}
				v, err := cache.Fetch(ctx, fmt.Sprintf("counter-%d", (r+i)%2), fill, tmplcache.Tags("counter"))
				if err != nil {
					t.Error(err)
					return
				}
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
				if n < floor {
					stale.Add(1)
					firstStale.CompareAndSwap(nil, fmt.Sprintf("read %d after the floor was %d", n, floor))
				}
			}
		})
	}
	err := <-writerDone
	close(stop)
	wg.Wait()
	require.NoError(t, err, "writer process:\n%s", out.String())

	ctx := testCtx(t)
	writes, err := getInt(ctx, counterKey(ns))
	require.NoError(t, err)
	stats := cache.Stats()
	t.Logf("%d reads in process A, %d invalidations in process B; %d hits, %d fills, %d builds not stored (stale), %d stale reads",
		reads.Load(), writes, stats.Hits, fills.Load(), stats.SkippedStale, stale.Load())
	require.Zero(t, stale.Load(), "stale reads; the first: %v", firstStale.Load())
	// The run must have been a contest, or it proves nothing.
	require.Greater(t, reads.Load(), int64(200))
	require.Greater(t, writes, int64(100))
	require.NotZero(t, stats.Hits, "no read was served from the cache")
	require.NotZero(t, stats.SkippedStale, "no build raced an invalidation")
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
