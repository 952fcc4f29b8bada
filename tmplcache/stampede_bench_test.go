package tmplcache_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// BenchmarkStampede: an expensive entry (a 20 ms fill), built once before
// 16 readers start reading it, each one read every 20 ms, for 10 s
// (STAMPEDE_SECONDS to change it), while the entry expires every second
// (TTL 1 s) or its tag is invalidated every second. Reported: builds,
// expiries or invalidations, reads that waited for another's build, and
// read latency (p50, p99, p99.9, max), with early recomputation off and
// on, and with grace 0 and 5 s, against a baseline of hits only (nothing
// expires) read the same way. Run with -benchtime 1x.
func BenchmarkStampede(b *testing.B) {
	d := 10 * time.Second
	if s := os.Getenv("STAMPEDE_SECONDS"); s != "" {
		if n, err := time.ParseDuration(s + "s"); err == nil {
			d = n
		}
	}
	for _, tc := range []struct {
		name       string
		opts       []tmplcache.Option
		ttl        time.Duration
		grace      time.Duration
		invalidate bool
	}{
		{"baseline/hits-only", nil, time.Hour, 0, false},
		{"expiry/early=off", []tmplcache.Option{tmplcache.WithoutEarlyRecompute()}, time.Second, 0, false},
		{"expiry/early=on", nil, time.Second, 0, false},
		{"invalidation/grace=0", nil, time.Hour, 0, true},
		{"invalidation/grace=5s", nil, time.Hour, 5 * time.Second, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			set := []tmplcache.SetOption{tmplcache.Tags("t"), tmplcache.TTL(tc.ttl), tmplcache.Grace(tc.grace)}
			var r stampede
			for b.Loop() {
				r = runStampede(tmplcache.New(nil, tc.opts...), set, tc.invalidate, d)
			}
			if !tc.invalidate && tc.ttl < d {
				r.events = int64(d / tc.ttl)
			}
			b.ReportMetric(float64(r.builds), "builds")
			b.ReportMetric(float64(r.events), "expiries|invalidations")
			b.ReportMetric(float64(r.waits), "waits")
			b.ReportMetric(float64(r.reads), "reads")
			b.ReportMetric(us(r.p50), "p50-µs")
			b.ReportMetric(us(r.p99), "p99-µs")
			b.ReportMetric(us(r.p999), "p99.9-µs")
			b.ReportMetric(us(r.max), "max-µs")
		})
	}
}

type stampede struct {
	builds, waits, events, reads int64
	p50, p99, p999, max          time.Duration
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func runStampede(c *tmplcache.Cache, set []tmplcache.SetOption, invalidate bool, d time.Duration) stampede {
	var builds atomic.Int64
	fill := func(context.Context) ([]byte, error) {
		builds.Add(1)
		time.Sleep(20 * time.Millisecond) // an expensive fragment
		return []byte("value"), nil
	}
	_, _ = c.Fetch(bg, "hot", fill, set...) // warm: a cold start is another matter
	builds.Store(0)
	waitsBefore := c.Stats().FlightWaits
	deadline := time.Now().Add(d)
	var events atomic.Int64
	var wg sync.WaitGroup
	if invalidate {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				time.Sleep(time.Second)
				_ = c.InvalidateTags(bg, "t")
				events.Add(1)
			}
		})
	}
	lat := make([][]time.Duration, 16)
	for i := range lat {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				start := time.Now()
				_, _ = c.Fetch(bg, "hot", fill, set...)
				lat[i] = append(lat[i], time.Since(start))
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	return stampede{builds: builds.Load(), waits: int64(c.Stats().FlightWaits - waitsBefore), events: events.Load(),
		reads: int64(len(all)), p50: q(0.5), p99: q(0.99), p999: q(0.999), max: all[len(all)-1]}
}
