package tmplcache_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	gocache "github.com/patrickmn/go-cache"
)

var fragment = bytes.Repeat([]byte("<li>cached fragment</li>"), 40) // ~1 KB

// BenchmarkBaselineGoCacheGet is the floor: a plain go-cache read of the
// same value, with the copy a caller-owned result needs.
func BenchmarkBaselineGoCacheGet(b *testing.B) {
	gc := gocache.New(gocache.NoExpiration, 0)
	gc.Set("k", fragment, gocache.NoExpiration)
	b.ReportAllocs()
	for b.Loop() {
		v, _ := gc.Get("k")
		_ = append([]byte(nil), v.([]byte)...)
	}
}

func benchGet(b *testing.B, tags int) {
	c := tmplcache.New(nil)
	var ts []string
	for i := range tags {
		ts = append(ts, fmt.Sprintf("tag:%d", i))
	}
	if err := c.Set(bg, "k", fragment, tmplcache.Tags(ts...)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := c.Get(bg, "k"); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkGetHit1Tag(b *testing.B)  { benchGet(b, 1) }
func BenchmarkGetHit5Tags(b *testing.B) { benchGet(b, 5) }

func BenchmarkFetchHit(b *testing.B) {
	c := tmplcache.New(nil)
	fill := value(string(fragment))
	if _, err := c.Fetch(bg, "k", fill, tmplcache.Tags("a", "b")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Fetch(bg, "k", fill, tmplcache.Tags("a", "b")); err != nil {
			b.Fatal(err)
		}
	}
	if st := c.Stats(); st.Stores != 1 {
		b.Fatalf("Fetch hit stored %d times", st.Stores)
	}
}

// Invalidation writes one record per tag, whatever the number of entries
// tagged: the two benchmarks below must cost the same.
func benchInvalidate(b *testing.B, entries int) {
	c := tmplcache.New(nil)
	for i := range entries {
		if err := c.Set(bg, fmt.Sprintf("entry:%d", i), []byte("v"), tmplcache.Tags("hot")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.InvalidateTags(bg, "hot"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInvalidateTags1Entry(b *testing.B)      { benchInvalidate(b, 1) }
func BenchmarkInvalidateTags100kEntries(b *testing.B) { benchInvalidate(b, 100_000) }
