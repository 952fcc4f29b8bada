package memcachestore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/memcachestore"
)

// Every benchmark runs on memcached and, as the baseline, on the in-process
// tmplcache.MemoryStore: the difference is the price of the network.

type benchStore struct {
	name string
	new  func(b *testing.B) tmplcache.Store
}

var benchStores = []benchStore{
	{"memory", func(*testing.B) tmplcache.Store { return tmplcache.NewMemoryStore() }},
	{"memcached", func(b *testing.B) tmplcache.Store {
		return memcachestore.New(memcachestore.NewTestClient(b, memcachestore.ServerAddr(b)))
	}},
}

// benchCache returns a cache on a store of kind st. Its timeout is
// generous, so a busy machine cannot turn a benchmark into a failure; a
// timeout costs the same whatever its length.
func benchCache(b *testing.B, st benchStore) *tmplcache.Cache {
	return newBenchCache(st.new(b))
}

func newBenchCache(s tmplcache.Store) *tmplcache.Cache {
	return tmplcache.New(s, tmplcache.WithNamespace(memcachestore.Namespace()), tmplcache.WithTimeout(30*time.Second))
}

func benchTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag:%d", i)
	}
	return tags
}

// fragment is a typical cached piece of HTML.
var fragment = []byte(fmt.Sprintf("<ul>%0*d</ul>", 1<<10, 0))

func BenchmarkGetHit(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 5} {
		for _, st := range benchStores {
			b.Run(fmt.Sprintf("tags=%d/store=%s", n, st.name), func(b *testing.B) {
				c := benchCache(b, st)
				if err := c.Set(ctx, "fragment", fragment, tmplcache.Tags(benchTags(n)...)); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, ok, err := c.Get(ctx, "fragment"); !ok || err != nil {
						b.Fatalf("Get: ok=%v, err=%v; want a hit", ok, err)
					}
				}
			})
		}
	}
}

func BenchmarkFetchHit(b *testing.B) {
	ctx := context.Background()
	fill := func(context.Context) ([]byte, error) { return fragment, nil }
	for _, st := range benchStores {
		b.Run("store="+st.name, func(b *testing.B) {
			c := benchCache(b, st)
			if _, err := c.Fetch(ctx, "fragment", fill, tmplcache.Tags("post:1")); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Fetch(ctx, "fragment", fill, tmplcache.Tags("post:1")); err != nil {
					b.Fatal(err)
				}
			}
			if s := c.Stats(); s.Stores != 1 {
				b.Fatalf("%d stores: every Fetch after the first must hit", s.Stores)
			}
		})
	}
}

// BenchmarkInvalidateTags shows that invalidation is flat: it writes one tag
// record, however many entries carry the tag.
func BenchmarkInvalidateTags(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 100_000} {
		for _, st := range benchStores {
			b.Run(fmt.Sprintf("entries=%d/store=%s", n, st.name), func(b *testing.B) {
				c := taggedEntries(b, st, n)
				b.ReportAllocs()
				for b.Loop() {
					if err := c.InvalidateTags(ctx, "shared"); err != nil {
						b.Fatal(err)
					}
				}
				if _, ok, _ := c.Get(ctx, "entry:0"); ok {
					b.Fatal("an entry survived the invalidation of its tag")
				}
			})
		}
	}
}

var tagged = struct {
	sync.Mutex
	m map[string]*tmplcache.Cache
}{m: map[string]*tmplcache.Cache{}}

// taggedEntries returns a cache holding n valid entries tagged "shared".
// Filling memcached with 100,000 entries takes a while: it is done once per
// process and store, and the entries get a TTL so they leave the shared
// server soon after. Later runs (-count) invalidate entries that are
// already invalid, which costs the same: invalidation never looks at them.
func taggedEntries(b *testing.B, st benchStore, n int) *tmplcache.Cache {
	b.Helper()
	id := fmt.Sprintf("%s/%d", st.name, n)
	tagged.Lock()
	defer tagged.Unlock()
	if c, ok := tagged.m[id]; ok {
		return c
	}
	var s tmplcache.Store
	if st.name == "memcached" {
		// Not NewTestClient: the cache outlives this benchmark.
		client := memcache.New(memcachestore.ServerAddr(b))
		client.MaxIdleConns = 64
		s = memcachestore.New(client)
	} else {
		s = st.new(b)
	}
	c := newBenchCache(s)
	ctx := context.Background()
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				err := c.Set(ctx, fmt.Sprintf("entry:%d", i), []byte("v"), tmplcache.Tags("shared"), tmplcache.TTL(10*time.Minute))
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	for _, i := range []int{0, n - 1} {
		if _, ok, err := c.Get(ctx, fmt.Sprintf("entry:%d", i)); !ok || err != nil {
			b.Fatalf("entry %d: ok=%v, err=%v; want a hit before invalidating", i, ok, err)
		}
	}
	tagged.m[id] = c
	return c
}
