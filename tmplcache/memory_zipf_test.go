package tmplcache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/maypok86/otter/v2"
)

// zipf draws ranks 0..n-1 with P(k) ∝ 1/(k+1)^1, by inverse CDF over the
// harmonic sums: exact for s = 1, which math/rand/v2's Zipf (s > 1) cannot
// do.
type zipf struct {
	cdf []float64
	r   *rand.Rand
}

func newZipf(n int, r *rand.Rand) *zipf {
	cdf := make([]float64, n)
	h := 0.0
	for k := range n {
		h += 1 / float64(k+1)
		cdf[k] = h
	}
	for k := range cdf {
		cdf[k] /= h
	}
	return &zipf{cdf, r}
}

func (z *zipf) next() int {
	return min(sort.SearchFloat64s(z.cdf, z.r.Float64()), len(z.cdf)-1)
}

// cacheAside is the part of a cache the hit ratio benchmark drives.
type cacheAside interface {
	get(key string) bool
	set(key string, value []byte)
}

type memoryAside struct{ s *tmplcache.MemoryStore }

func (m memoryAside) get(key string) bool {
	v, err := m.s.Get(context.Background(), []string{key})
	return err == nil && v[0] != nil
}

func (m memoryAside) set(key string, value []byte) {
	_ = m.s.Set(context.Background(), []tmplcache.Item{{Key: key, Value: value}})
}

type otterAside struct{ c *otter.Cache[string, []byte] }

func (o otterAside) get(key string) bool          { _, ok := o.c.GetIfPresent(key); return ok }
func (o otterAside) set(key string, value []byte) { o.c.Set(key, value) }

// replayZipf runs trace cache-aside on c and returns the hit ratio of the
// accesses after the first warmup.
func replayZipf(c cacheAside, trace []int32, warmup int, names []string, page []byte) float64 {
	hits := 0
	for i, k := range trace {
		key := names[k]
		if c.get(key) {
			if i >= warmup {
				hits++
			}
			continue
		}
		n := pageSize(int(k))
		c.set(key, page[:n:n])
	}
	return float64(hits) / float64(len(trace)-warmup)
}

// zipfWorkload makes the keys, a Zipf(1.0) trace over them and a budget of
// a tenth of their total size (keys and values).
func zipfWorkload(keys, accesses int) (names []string, trace []int32, budget int64) {
	names = make([]string, keys)
	var total int64
	for i := range names {
		names[i] = fmt.Sprintf("/products?category=shoes&page=%d&sort=price", i)
		total += int64(len(names[i]) + pageSize(i))
	}
	z := newZipf(keys, rand.New(rand.NewPCG(2026, 14)))
	trace = make([]int32, accesses)
	for i := range trace {
		trace[i] = int32(z.next())
	}
	return names, trace, total / 10
}

func newMemoryAside(budget int64) cacheAside {
	return memoryAside{tmplcache.NewMemoryStore(tmplcache.MaxBytes(budget))}
}

func newOtterAside(budget int64) cacheAside {
	return otterAside{otter.Must(&otter.Options[string, []byte]{
		MaximumWeight: uint64(budget),
		Weigher:       func(k string, v []byte) uint32 { return uint32(len(k) + len(v)) },
	})}
}

// BenchmarkZipfHitRatio's goal at a tenth of its size. Issue 14 asks for 5
// points; the test asks for 2, because LRU, or S3-FIFO without its read
// counters, already comes within 5 (4.4 points behind here), and MemoryStore
// holds to a fraction of a point.
func TestMemoryStoreZipfHitRatio(t *testing.T) {
	t.Run("a Zipf workload hits within 2 points of otter at the same byte budget", func(t *testing.T) {
		names, trace, budget := zipfWorkload(100_000, 1_000_000)
		page := make([]byte, 8<<10)
		mem := replayZipf(newMemoryAside(budget), trace, 200_000, names, page)
		ott := replayZipf(newOtterAside(budget), trace, 200_000, names, page)
		t.Logf("hit ratio: MemoryStore %.4f, otter %.4f", mem, ott)
		if mem < ott-0.02 {
			t.Errorf("MemoryStore hits %.4f, more than 2 points below otter's %.4f", mem, ott)
		}
	})
}
