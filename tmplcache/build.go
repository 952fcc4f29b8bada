package tmplcache

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// A Build is one read of a key that either hit (the value is at hand) or
// missed (the value is being built). Most code uses [Cache.Fetch], which
// drives a Build; engines that cannot wrap the building code in a function
// (a template whose body runs after the cache was consulted) drive one
// themselves:
//
//	b, err := c.Begin(ctx, key, tmplcache.Tags("post:1"))
//	if b.Hit() { use(b.Value()); b.End(ctx, nil); return }
//	v, err := build(b.Context(ctx)) // AddTags, Prevent, nested reads on this ctx
//	if err != nil { b.Abort(); return }
//	b.End(ctx, v) // stores v if nothing it depends on changed meanwhile
//
// Exactly one of End or Abort must be called. A Build is safe for
// concurrent use by the goroutines of one fill.
type Build struct {
	c       *Cache
	key     string // store key; "" for a tracking scope
	spec    *Spec  // key and options; nil for a tracking scope
	hit     bool
	graced  bool         // a hit served within its grace: the value is stale
	meta    layout.Meta  // a hit's header (stored, expires...)
	hitTags layout.Tags  // a hit's tags, read in place in the entry
	value   []byte       // a hit's value; aliases store memory
	start   time.Time    // when Begin (or Track) ran
	reading layout.Stamp // the store's clock then (zero: none known)
	parent  *Build
	tx      *Tx // the transaction b is built in: its own locks do not stop it
	flight  *flight
	// prefetched are the values of spec.prefetch a Prefetcher store read
	// with the lookup: the records the commit checks, without reading them
	// again.
	prefetched [][]byte

	mu        sync.Mutex
	deps      []dep // a handful: a slice beats a map
	depBuf    [2]dep
	preRead   bool // data may predate Begin: its own reading says nothing
	given     bool // Set's value, not built here: no reading of its own
	prevented bool
	stale     bool // content may predate an invalidation: never store
	unsure    bool // versions could not be checked: never store
	ended     bool
}

// Begin reads key. On a hit the returned build holds the value; on a miss
// it is ready to build one, and from now on an invalidation of any tag it
// ends up depending on keeps it from being stored. If another goroutine of
// this process is building key, Begin first waits for it (at most
// [WithFlightWait]) and reads again. Store errors are not returned: the
// build goes on uncached. Errors are for bad input only.
func (c *Cache) Begin(ctx context.Context, key string, opts ...SetOption) (*Build, error) {
	return c.Spec(key, opts...).Begin(ctx)
}

func (c *Cache) begin(ctx context.Context, s *Spec) (*Build, error) {
	b := s.newBuild(ctx)
	b.parent = Current(ctx)
	for waited := false; ; waited = true {
		// Read the clock before the entry: a build that follows this miss
		// loads its data after both.
		b.reading = c.reading()
		now := c.now()
		b.start = now
		var e entryView
		ld, _ := c.load(ctx, b.key, s.opts.check, now, false, s.prefetch, &e)
		b.prefetched = ld.also
		switch ld.readState {
		case fresh:
			if !c.recomputeEarly(e.meta, now) {
				b.setHit(&e, false)
				return b, nil
			}
			if f, leader := c.flights.join(b.key, now, c.cfg.flightWait); leader {
				// This reader refreshes the entry ahead of its expiry; the
				// value stays valid for everyone else meanwhile.
				c.stats.earlyRebuilds.Add(1)
				b.flight = f
				c.startBuild(ctx, b)
				return b, nil
			}
			b.setHit(&e, false) // someone refreshes it already
			return b, nil
		case inGrace:
			f, leader := c.flights.join(b.key, now, c.cfg.flightWait)
			if !leader && !b.buildingSelf() {
				c.stats.graceHits.Add(1)
				b.setHit(&e, true)
				return b, nil
			}
			c.stats.misses.Add(1)
			if leader {
				b.flight = f
			}
			c.startBuild(ctx, b)
			return b, nil
		}
		if waited || b.buildingSelf() {
			break
		}
		f, leader := c.flights.join(b.key, c.now(), c.cfg.flightWait)
		if leader {
			b.flight = f
			break
		}
		c.stats.flightWaits.Add(1)
		if !f.wait(ctx, f.expires.Sub(c.now())) {
			break // the other build is too slow: build our own
		}
	}
	c.startBuild(ctx, b)
	return b, nil
}

// setHit makes b a hit on e (graced: served within its grace, stale).
func (b *Build) setHit(e *entryView, graced bool) {
	b.hit, b.graced, b.meta, b.value, b.hitTags = true, graced, e.meta, e.value, e.tags
}

// recomputeEarly applies the XFetch rule to a fresh entry: rebuild now
// with probability exp(-(expires-now)/(delta·beta)), which is tiny until
// the time left nears the entry's build time.
func (c *Cache) recomputeEarly(m layout.Meta, now time.Time) bool {
	if !c.mayRecomputeEarly(m, now) {
		return false
	}
	left := float64(m.Expires - now.UnixNano())
	return left <= -float64(m.Delta)*c.cfg.beta*math.Log(1-rand.Float64())
}

// mayRecomputeEarly reports whether the XFetch rule could fire for a fresh
// entry at now: false when it is off, or when the entry is further from
// its expiry than any draw reaches.
func (c *Cache) mayRecomputeEarly(m layout.Meta, now time.Time) bool {
	if c.cfg.beta <= 0 || m.Expires == 0 || m.Delta <= 0 {
		return false
	}
	// -log(1-U) < xfetchHorizon for every U rand can draw.
	return float64(m.Expires-now.UnixNano()) <= xfetchHorizon*float64(m.Delta)*c.cfg.beta
}

// xfetchHorizon bounds -log(1-U) for U from rand.Float64, which is a
// multiple of 2⁻⁵³ below 1: 53·ln 2 ≈ 36.74. Further from expiry than this
// many build times (times β), no draw can trigger a rebuild, so most hits
// skip the draw and the logarithm.
const xfetchHorizon = 37

// buildingSelf reports a key that is being built by an ancestor (a value
// that contains itself): waiting for that flight would wait for ourselves.
func (b *Build) buildingSelf() bool {
	for p := b.parent; p != nil; p = p.parent {
		if p.key == b.key {
			return true
		}
	}
	return false
}

// startBuild readies a miss. A build whose chain has a clock reading needs
// nothing more. Otherwise (this process has not seen the store's clock
// yet, or the store has none) it reads the versions of its tags now, before
// any data is, with the clock in the same batch (creating it if no
// invalidation ever did): that is its reading.
func (c *Cache) startBuild(ctx context.Context, b *Build) {
	b.start = c.now()
	keys := b.spec.tagKeys
	if h, _, _ := b.horizon(); h.Known() {
		for _, k := range keys {
			b.dep(k)
		}
		return
	}
	if len(keys) == 0 {
		b.reading = c.syncClock(ctx)
		return
	}
	recs, clk, err := c.readRecords(ctx, keys)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.unsure = true
		return
	}
	if !clk.Known() {
		clk = c.syncClock(ctx)
	}
	b.reading = clk // read before the data too
	for i, k := range keys {
		d := b.dep(k)
		d.ver, d.hasVer = recs[i].Version(), true
	}
}

// End finishes b. A miss stores value, unless it was prevented or anything
// it depends on was invalidated (or locked by a transaction) since its data
// was read; value is copied, the caller keeps it. A hit stores nothing.
// Either way b's tags (with their versions) and staleness pass to its
// parent. The error, if any, is a store error, already counted and logged.
func (b *Build) End(ctx context.Context, value []byte) error {
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		return fmt.Errorf("tmplcache: Build.End called twice for %q", b.Key())
	}
	b.ended = true
	b.mu.Unlock()
	defer b.leaveFlight()

	switch {
	case b.key == "":
		b.passScopeUp()
		return nil
	case b.hit:
		if b.parent != nil {
			// A hit's deps no longer change; one served within its grace
			// is stale, and so is whatever encloses it.
			b.parent.includeTags(b.hitTags, b.graced)
		}
		return nil
	}
	deps, err := b.commit(ctx, value)
	if b.parent != nil {
		b.parent.includeDeps(deps, b.isStale())
	}
	return err
}

// Abort finishes b without storing anything (its body failed).
func (b *Build) Abort() {
	b.mu.Lock()
	b.ended = true
	b.mu.Unlock()
	b.leaveFlight()
}

func (b *Build) abortUnlessDone() {
	b.mu.Lock()
	ended := b.ended
	b.mu.Unlock()
	if !ended {
		b.Abort()
	}
}

func (b *Build) leaveFlight() {
	if f := b.flight; f != nil {
		b.flight = nil
		b.c.flights.leave(b.key, f)
	}
}

func (b *Build) isStale() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stale || b.unsure
}

func (b *Build) markStale() {
	b.c.stats.skippedStale.Add(1)
	b.mu.Lock()
	b.stale = true
	b.mu.Unlock()
}

func (b *Build) markUnsure() {
	b.mu.Lock()
	b.unsure = true
	b.mu.Unlock()
}
