package cachemetrics_test

import (
	"context"
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

var seq atomic.Int64

// uniqueName returns an expvar name no other test (nor a -count=N rerun)
// has used: expvar cannot unpublish.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("%s#%d", t.Name(), seq.Add(1))
}
