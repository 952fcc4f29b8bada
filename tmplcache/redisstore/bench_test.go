package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
)

// Benchmarks report roundtrips/op, counted by a go-redis hook (one per
// command, one per pipeline), next to the time: on a network, round trips
// are the cost. The in-process MemoryStore is the baseline.

type benchBackend struct {
	name string
	// open returns a store, a namespace of its own and its round-trip
	// counter (nil in process).
	open func(b *testing.B) (tmplcache.Store, string, *roundTrips)
}

func remote(name string, client func(b *testing.B) redis.UniversalClient) benchBackend {
	return benchBackend{name, func(b *testing.B) (tmplcache.Store, string, *roundTrips) {
		c := client(b)
		return New(c), namespace(b, c), countRoundTrips(c)
	}}
}

var benchBackends = []benchBackend{
	{"memory", func(*testing.B) (tmplcache.Store, string, *roundTrips) {
		return tmplcache.NewMemoryStore(), "bench", nil
	}},
	// In process, over TCP; without ClockTTL, whose expiry sweep on every
	// command would make 100,000 keys quadratic.
	remote("miniredis", func(b *testing.B) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: miniredis.RunT(b).Addr()})
		b.Cleanup(func() { _ = c.Close() })
		return c
	}),
	remote("redis", func(b *testing.B) redis.UniversalClient { return realClient(b) }),
}

// measure runs op b.N times and reports its round trips per op.
func measure(b *testing.B, rt *roundTrips, op func() error) {
	b.ReportAllocs()
	var before int64
	if rt != nil {
		before = rt.n.Load()
	}
	b.ResetTimer()
	for range b.N {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var n int64
	if rt != nil {
		n = rt.n.Load() - before
	}
	b.ReportMetric(float64(n)/float64(b.N), "roundtrips/op")
}

func benchTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%d", i)
	}
	return tags
}

func BenchmarkGetHit(b *testing.B) {
	value := bytes.Repeat([]byte("<li>fragment</li>"), 64) // ~1 KiB of HTML
	for _, be := range benchBackends {
		for _, ntags := range []int{1, 5} {
			b.Run(fmt.Sprintf("%s/%dtags", be.name, ntags), func(b *testing.B) {
				s, ns, rt := be.open(b)
				cache := tmplcache.New(s, tmplcache.WithNamespace(ns))
				ctx := context.Background()
				if err := cache.Set(ctx, "page", value, tmplcache.Tags(benchTags(ntags)...)); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := cache.Get(ctx, "page"); !ok || err != nil { // the server learns the script
					b.Fatal("no hit:", err)
				}
				measure(b, rt, func() error {
					_, ok, err := cache.Get(ctx, "page")
					if !ok && err == nil {
						err = fmt.Errorf("miss")
					}
					return err
				})
			})
		}
	}
}

func BenchmarkInvalidateTags(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name+"/1tag", func(b *testing.B) {
			s, ns, rt := be.open(b)
			cache := tmplcache.New(s, tmplcache.WithNamespace(ns))
			ctx := context.Background()
			measure(b, rt, func() error { return cache.InvalidateTags(ctx, "tag") })
		})
	}
}

// BenchmarkInvalidateTagOfEntries invalidates a tag that 1 or 100,000
// entries depend on: tags are versions, so the cost must not change.
func BenchmarkInvalidateTagOfEntries(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			for _, n := range []int{1, 100_000} {
				s, ns, rt := be.open(b)
				cache := tmplcache.New(s, tmplcache.WithNamespace(ns))
				populate(b, cache, s, ns, n)
				b.Run(fmt.Sprintf("%dentries", n), func(b *testing.B) {
					ctx := context.Background()
					measure(b, rt, func() error { return cache.InvalidateTags(ctx, "hot") })
				})
			}
		})
	}
}

// populate stores n valid entries tagged "hot": one through the cache, the
// others as copies of its bytes written straight to the store, in batches.
func populate(b *testing.B, cache *tmplcache.Cache, s tmplcache.Store, ns string, n int) {
	ctx := context.Background()
	if err := cache.Set(ctx, "entry-0", []byte("<p>hot</p>"), tmplcache.Tags("hot")); err != nil {
		b.Fatal(err)
	}
	raw, err := s.Get(ctx, []string{ns + ":e:entry-0"})
	if err != nil || raw[0] == nil {
		b.Fatal("no entry to copy:", err)
	}
	const batch = 10_000
	items := make([]tmplcache.Item, 0, batch)
	for i := 1; i < n; i++ {
		items = append(items, tmplcache.Item{Key: fmt.Sprintf("%s:e:entry-%d", ns, i), Value: raw[0]})
		if len(items) == batch || i == n-1 {
			if err := s.Set(ctx, items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	if _, ok, err := cache.Get(ctx, fmt.Sprintf("entry-%d", n-1)); !ok || err != nil {
		b.Fatal("a copied entry must be valid:", err)
	}
}
