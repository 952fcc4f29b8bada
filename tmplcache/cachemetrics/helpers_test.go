package cachemetrics_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// exercise drives c through a known sequence: 3 misses, 1 store, 1 hit,
// 2 invalidations.
func exercise(t *testing.T, c *tmplcache.Cache) {
	t.Helper()
	ctx := context.Background()
	fill := func(context.Context) ([]byte, error) { return []byte("<p>post</p>"), nil }
	for range 2 {
		if _, err := c.Fetch(ctx, "post:1", fill, tmplcache.Tags("post:1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.InvalidateTags(ctx, "post:1", "home"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"post:1", "nothing"} {
		if _, _, err := c.Get(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
}

var errDown = errors.New("store down")

// flakyStore is a MemoryStore that fails every call while down is set.
type flakyStore struct {
	mem  *tmplcache.MemoryStore
	down atomic.Bool
}

func (s *flakyStore) Get(ctx context.Context, keys []string) ([][]byte, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.mem.Get(ctx, keys)
}

func (s *flakyStore) Set(ctx context.Context, items []tmplcache.Item) error {
	if s.down.Load() {
		return errDown
	}
	return s.mem.Set(ctx, items)
}

func (s *flakyStore) Add(ctx context.Context, items []tmplcache.Item) error {
	if s.down.Load() {
		return errDown
	}
	return s.mem.Add(ctx, items)
}

func (s *flakyStore) Delete(ctx context.Context, keys []string) error {
	if s.down.Load() {
		return errDown
	}
	return s.mem.Delete(ctx, keys)
}

var seq atomic.Int64

// uniqueName returns an expvar name no other test (nor a -count=N rerun)
// has used: expvar cannot unpublish.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("%s#%d", t.Name(), seq.Add(1))
}
