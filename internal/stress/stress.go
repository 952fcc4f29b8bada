// Package stress runs the §3.3 stress that tests of the cache and of the
// template layer share: writers change the data (a version, counting up)
// and invalidate its tag; readers note the newest version whose
// invalidation has returned, then read through the cache. A read showing a
// version older than the one noted before it began is stale.
package stress

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Config is one stress.
type Config struct {
	Writers, Readers int
	// Pause is what a writer waits for before each change.
	Pause func() <-chan time.Time
	// Invalidate invalidates the data's tag after a writer's i-th change.
	Invalidate func(i int) error
	// Read is one read by reader g: it calls load where its request loads
	// the data, and returns the version the cache gave it.
	Read func(g int, load func() int64) (int64, error)
}

// Result is what the readers saw.
type Result struct {
	Reads, Stale, Invalidations int64
}

// StaleReads runs cfg for d. An error of Invalidate or Read fails t and
// stops the goroutine that got it.
func StaleReads(t testing.TB, d time.Duration, cfg Config) Result {
	var data, published, invalidations, reads, stale atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range cfg.Writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-cfg.Pause():
				}
				v := data.Add(1)
				if err := cfg.Invalidate(i); err != nil {
					t.Error(err)
					return
				}
				invalidations.Add(1)
				for p := published.Load(); p < v && !published.CompareAndSwap(p, v); p = published.Load() {
				}
			}
		})
	}
	for g := range cfg.Readers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := published.Load()
				got, err := cfg.Read(g, data.Load)
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
				if got < floor {
					stale.Add(1)
				}
			}
		})
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return Result{Reads: reads.Load(), Stale: stale.Load(), Invalidations: invalidations.Load()}
}
