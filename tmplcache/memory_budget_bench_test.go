package tmplcache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// pageSize gives key i a size between 2 and 8 KiB, spread by a hash so that
// size and popularity are unrelated.
func pageSize(i int) int { return 2<<10 + int(uint32(i)*2654435761%(6<<10)) }

// BenchmarkMemoryStoreRSS fetches 1e6 distinct pages (2–8 KiB, keyed by
// URLs that differ in their query string: what a crawler or an attacker
// makes of a page cache) through a Cache on a store with a 512 MiB budget,
// and reports the process's peak RSS and the store's live heap against the
// budget. Every fetch misses, so every page is built and stored.
//
// The budget bounds the store's live heap, not RSS: a Go process adds the
// collector's headroom on top. With GOGC=100 the heap grows to twice the
// live data before a collection, so a process that is mostly cache peaks
// near twice its budget. GOMEMLIMIT holds it closer, at the cost of
// collections back to back (gc/op), but not below the garbage made while a
// collection runs: each store evicts a page, and what is freed during one
// cycle is only reclaimed by the next. The faster pages are made, the more
// that is, so the runs differ in how long a page takes to build: render=0
// builds at memory speed (a flood no server sees), render=4 spends some
// 10µs of CPU per page (four SHA-256 passes over it: cheaper than any
// template render of that size). GOMEMLIMIT=budget+25% is what to run a
// cache-heavy process with: a quarter of headroom, no collection storm.
//
// A process keeps some runtime memory sized for its largest heap so far,
// so the runs go from the smallest peak to the largest; run one alone
// (-bench 'MemoryStoreRSS/NAME') for a clean process.
func BenchmarkMemoryStoreRSS(b *testing.B) {
	const budget = 512 << 20
	for _, tc := range []struct {
		name   string
		limit  int64 // GOMEMLIMIT for the run; 0 leaves it unset
		render int   // SHA-256 passes over a page to build it
	}{
		{"GOMEMLIMIT=budget+10%/render=4", budget + budget/10, 4},
		{"GOMEMLIMIT=budget+10%/render=0", budget + budget/10, 0},
		{"GOMEMLIMIT=budget+25%/render=0", budget + budget/4, 0},
		{"GOGC=100/render=0", 0, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.limit != 0 {
				old := debug.SetMemoryLimit(tc.limit)
				b.Cleanup(func() { debug.SetMemoryLimit(old) })
			}
			line := []byte("<li><a href=\"/p?id=1\">item</a></li>\n")
			page := bytes.Repeat(line, 8<<10/len(line)+1)
			const fetches = 1_000_000
			var peak memPeak
			var gcs uint32
			var base, live, frag int64
			run := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				debug.FreeOSMemory() // start from what is live, not from the last run's peak
				metrics.Read(heapStats)
				base = int64(heapStats[0].Value.Uint64())
				peak = memPeak{}
				peak.sample()
				store := tmplcache.NewMemoryStore(tmplcache.MaxBytes(budget))
				c := tmplcache.New(store)
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				gc0 := ms.NumGC
				b.StartTimer()
				for i := range fetches {
					key := fmt.Sprintf("/products?category=shoes&page=%d&sort=price&run=%d", i, run)
					build := func(context.Context) ([]byte, error) {
						n := pageSize(i)
						for range tc.render {
							renderSink = sha256.Sum256(page[:n])
						}
						return page[:n:n], nil
					}
					if _, err := c.Fetch(bg, key, build, tmplcache.Tags("products", "category:"+strconv.Itoa(i%100))); err != nil {
						b.Fatal(err)
					}
					if i%1000 == 999 {
						peak.sample()
						st := store.Stats()
						if st.Bytes > st.MaxBytes {
							b.Fatalf("%d bytes accounted over a budget of %d", st.Bytes, st.MaxBytes)
						}
						peak.accounted = max(peak.accounted, st.Bytes)
					}
				}
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				gcs += ms.NumGC - gc0
				peak.sample()
				runtime.GC() // what the store keeps alive, without the garbage marked live mid-cycle
				metrics.Read(heapStats)
				live = int64(heapStats[0].Value.Uint64()) - base
				frag = int64(heapStats[1].Value.Uint64())
				if st := store.Stats(); st.Evictions == 0 || c.Stats().Stores != fetches {
					b.Fatalf("every fetch was meant to store and the store to evict: %+v, %+v", st, c.Stats())
				}
				runtime.KeepAlive(c)
				run++
				b.StartTimer()
			}
			const mib = 1 << 20
			b.ReportMetric(float64(budget)/mib, "budget-MiB")
			b.ReportMetric(float64(peak.accounted)/mib, "accounted-MiB")
			b.ReportMetric(float64(live)/mib, "live-heap-MiB")
			b.ReportMetric(float64(live)/float64(peak.accounted), "live-heap/accounted")
			b.ReportMetric(float64(frag)/mib, "heap-unused-MiB")
			b.ReportMetric(float64(peak.rss)/mib, "peak-RSS-MiB")
			b.ReportMetric(float64(peak.rss)/budget, "RSS/budget")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fetches), "ns/fetch")
			b.ReportMetric(float64(gcs)/float64(b.N), "gc/op")
		})
	}
}

// renderSink keeps the stand-in render from being optimised away.
var renderSink [sha256.Size]byte

// memPeak keeps the peaks of RSS (VmRSS, sampled) and of the bytes the
// store accounts for.
type memPeak struct{ rss, accounted int64 }

func (p *memPeak) sample() { p.rss = max(p.rss, vmRSS()) }

// heapStats are the live heap (what the last collection kept) and the
// heap's fragmentation (memory reserved for objects of a size class and
// holding none).
var heapStats = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}

func vmRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkZipfHitRatio replays one Zipf(1.0) trace over 1e6 keys
// (pages of 2–8 KiB), cache-aside, on MemoryStore and on otter (W-TinyLFU,
// the best general-purpose policy in Go) given the same byte budget: 10% of
// the keys' total size. otter weighs key + value bytes; MemoryStore also
// counts its per-item overhead and the allocator's rounding, so it holds a
// few per cent fewer pages. Each iteration replays the whole trace on a new
// cache (the first 2e6 accesses warm it up and are not counted), so the
// ratio does not depend on b.N.
func BenchmarkZipfHitRatio(b *testing.B) {
	const warmup = 2_000_000
	names, trace, budget := zipfWorkload(1_000_000, warmup+5_000_000)
	// Values share one array (sliced to their size with their capacity cut
	// to it): both caches count the bytes without the benchmark paying them.
	page := make([]byte, 8<<10)
	for _, tc := range []struct {
		name string
		new  func(budget int64) cacheAside
	}{
		{"store=MemoryStore", newMemoryAside},
		{"store=otter", newOtterAside},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ratio float64
			b.ReportAllocs()
			for b.Loop() {
				ratio = replayZipf(tc.new(budget), trace, warmup, names, page)
			}
			b.ReportMetric(100*ratio, "hit%")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(trace)), "ns/access")
			b.ReportMetric(float64(budget)/(1<<20), "budget-MiB")
		})
	}
}

// BenchmarkMemoryStoreGet reads one hot key from every core: the read path
// takes no lock of the store's own, and stops writing to the item once its
// read counter saturates.
func BenchmarkMemoryStoreGet(b *testing.B) {
	s := tmplcache.NewMemoryStore()
	if err := s.Set(bg, []tmplcache.Item{{Key: "k", Value: fragment}}); err != nil {
		b.Fatal(err)
	}
	keys := []string{"k"}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, _ := s.Get(bg, keys); v[0] == nil {
				b.Fatal("miss")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if v, _ := s.Get(bg, keys); v[0] == nil {
					b.Fatal("miss")
				}
			}
		})
	})
}
