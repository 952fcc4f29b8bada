package tmplcache

import "sync/atomic"

// Stats are a cache's counters since [New]. Reading them is cheap and safe
// at any time.
type Stats struct {
	Hits          uint64 // reads that returned a valid entry
	Misses        uint64 // reads that found no valid entry
	Stores        uint64 // entries written
	SkippedStale  uint64 // builds not stored: a tag changed while they were built
	SkippedLocked uint64 // builds not stored: a transaction held one of their tags
	SkippedUnsure uint64 // builds not stored: their tags could not be checked (store errors, bad tags)
	Prevented     uint64 // builds not stored because of Prevent
	Invalidations uint64 // tags invalidated (each tag counts once per call)
	FlightWaits   uint64 // misses that waited for a concurrent build of the same key
	EarlyRebuilds uint64 // hits turned into rebuilds ahead of expiry (WithEarlyRecompute)
	GraceHits     uint64 // reads served a previous value while it was rebuilt (Grace)
	Unusable      uint64 // hits whose value the reader rejected (Check): rebuilt
	StoreErrors   uint64 // store calls that failed (timeouts included)
	Timeouts      uint64 // store calls that ran out of time
	ShortCircuits uint64 // store calls refused while the breaker was open
	BreakerOpens  uint64 // times the breaker opened
	BreakerOpen   bool   // whether the breaker is open (or trying) now
	PendingTags   int    // failed invalidations waiting to be re-applied
}

type counters struct {
	hits, misses, stores, skippedStale, skippedLocked, skippedUnsure, prevented,
	invalidations, flightWaits, earlyRebuilds, graceHits, unusable, storeErrors, timeouts, shortCircuits,
	breakerOpens atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	s := &c.stats
	return Stats{
		Hits:          s.hits.Load(),
		Misses:        s.misses.Load(),
		Stores:        s.stores.Load(),
		SkippedStale:  s.skippedStale.Load(),
		SkippedLocked: s.skippedLocked.Load(),
		SkippedUnsure: s.skippedUnsure.Load(),
		Prevented:     s.prevented.Load(),
		Invalidations: s.invalidations.Load(),
		FlightWaits:   s.flightWaits.Load(),
		EarlyRebuilds: s.earlyRebuilds.Load(),
		GraceHits:     s.graceHits.Load(),
		Unusable:      s.unusable.Load(),
		StoreErrors:   s.storeErrors.Load(),
		Timeouts:      s.timeouts.Load(),
		ShortCircuits: s.shortCircuits.Load(),
		BreakerOpens:  s.breakerOpens.Load(),
		BreakerOpen:   c.br.state.Load() != breakerClosed,
		PendingTags:   c.pend.len(),
	}
}
