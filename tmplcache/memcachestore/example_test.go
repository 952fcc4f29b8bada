package memcachestore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/memcachestore"
)

// A cache on memcached, shared by every process that uses the same servers.
// (Not run: it needs a server; the tests run the same code against one.)
func ExampleNew() {
	mc := memcache.New("127.0.0.1:11211")
	mc.MaxIdleConns = 64 // above the peak of concurrent cache calls
	cache := tmplcache.New(memcachestore.New(mc), tmplcache.WithNamespace("blog"))

	ctx := context.Background()
	sidebar, err := cache.Fetch(ctx, "sidebar", func(ctx context.Context) ([]byte, error) {
		return []byte("<aside>recent posts</aside>"), nil // the expensive part
	}, tmplcache.Tags("posts"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", sidebar)

	// A post changed: on every process, the sidebar is rebuilt on next use.
	if err := cache.InvalidateTags(ctx, "posts"); err != nil {
		log.Print(err) // the cache keeps serving nothing stale meanwhile
	}
}
