package memcachestore

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachetagging/cachetagging/internal/testserver"
)

// Test helpers, exported to the tests of package memcachestore_test.

// ServerAddr returns the address of the memcached server the tests use:
// $MEMCACHE_ADDR, or 127.0.0.1:11211. When it does not answer, tb is
// skipped, or failed if $CI is "true" (see internal/testserver).
func ServerAddr(tb testing.TB) string {
	tb.Helper()
	addr := testserver.MemcacheAddr()
	if err := probe(addr); err != nil {
		testserver.Unavailable(tb, "memcached at "+addr, err)
	}
	return addr
}

var probes sync.Map // addr → func() error

func probe(addr string) error {
	f, _ := probes.LoadOrStore(addr, sync.OnceValue(func() error {
		c := memcache.New(addr)
		c.Timeout = 2 * time.Second
		defer c.Close()
		return c.Ping()
	}))
	return f.(func() error)()
}

// NewTestClient returns a client of addr, closed when tb ends.
func NewTestClient(tb testing.TB, addr string) *memcache.Client {
	c := memcache.New(addr)
	c.MaxIdleConns = 32
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Namespace returns a namespace of its own for a test, so tests (and
// those of other packages) can share one server without flushing it.
func Namespace() string { return fmt.Sprintf("memcachestore-test:%x", rand.Uint64()) }

// Running returns the number of goroutines of s's calls that have not
// returned yet.
func Running(s *Store) int64 { return s.running.Load() }
