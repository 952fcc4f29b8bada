package tmplcache

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// horizon returns what b's data is known to be newer than: the clock
// reading of its outermost build that has one (b's own only if its data
// was read after it began), and the earliest start among b and its
// ancestors (for stores without a clock, compared with a margin). tracked
// reports whether some build of the chain began before the data was read
// (a tracking scope, a page, a Fetch), whether or not it got a reading.
func (b *Build) horizon() (h layout.Stamp, tracked bool, t time.Time) {
	t = b.start
	for x := b; x != nil; x = x.parent {
		x.mu.Lock()
		if !x.preRead && !x.given {
			tracked = true
			if x.reading.Known() {
				h = x.reading
			}
		}
		x.mu.Unlock()
		if !x.start.IsZero() && x.start.Before(t) {
			t = x.start
		}
	}
	return h, tracked, t
}

// commit decides whether the built value may be stored, and stores it.
// It returns the deps (with the versions the value was built against) for
// the parent.
func (b *Build) commit(ctx context.Context, value []byte) ([]dep, error) {
	c := b.c
	b.mu.Lock()
	deps := slices.Clone(b.deps)
	prevented, stale, unsure, preRead := b.prevented, b.stale, b.unsure, b.preRead
	b.mu.Unlock()

	slices.SortFunc(deps, func(x, y dep) int { return strings.Compare(x.key, y.key) })
	switch {
	case stale:
		c.stats.skippedStale.Add(1)
		return deps, nil
	case unsure:
		c.stats.skippedUnsure.Add(1)
		return deps, nil
	case len(deps) > MaxTags:
		c.stats.skippedUnsure.Add(1)
		c.cfg.logger.Warn("tmplcache: entry not stored: too many tags", "key", b.Key(), "tags", len(deps), "max", MaxTags)
		b.markUnsure()
		return deps, nil
	}
	var recs []layout.Record
	var keys []string
	var read [][]byte // the records as prefetched: the write stores only if they still are
	h, tracked, start := b.horizon()
	if len(deps) > 0 {
		keys = make([]string, len(deps))
		for i, d := range deps {
			keys[i] = d.key
		}
		var err error
		var clk layout.Stamp
		if recs, read, clk = b.fromPrefetch(keys); read != nil {
			c.observe(clk)
		} else if recs, clk, err = c.readRecords(ctx, keys); err != nil {
			c.stats.skippedUnsure.Add(1)
			b.markUnsure()
			return deps, err
		}
		if c.seq != nil && tracked && !h.Known() {
			// Tracked, but the store's clock could not be read then (the
			// store failed): the wall clock cannot stand in for it,
			// machines disagree. Not stored.
			if !clk.Known() {
				c.syncClock(ctx)
			}
			c.stats.skippedUnsure.Add(1)
			b.markUnsure()
			return deps, nil
		}
	}
	now := c.now()
	limit := start.Add(-c.cfg.skew).UnixNano()
	checkKnown := preRead || b.parent != nil
	if !h.Known() && checkKnown && c.seq != nil {
		c.untracked.Do(func() {
			c.cfg.logger.Info("tmplcache: a build whose data may predate it runs outside any tracked request, "+
				"so it is checked with the WithSkew margin instead of the store's clock (and not stored for that long "+
				"after an invalidation of its tags); start tracking when requests begin, before they load data "+
				"(cachetagging.Track or Cache.Track) for exact ordering", "key", b.Key())
		})
	}
	for i := range deps {
		d, r := &deps[i], recs[i]
		if !c.cfg.naiveVersions {
			s, invalidated := r.Stamp()
			switch {
			case r.Locked(now.UnixNano()) && !b.ownLock(r.Lock):
				c.stats.skippedLocked.Add(1)
				b.markUnsure()
				return deps, nil
			case d.hasVer && r.Version() != d.ver,
				h.Known() && invalidated && s.After(h),
				!h.Known() && (d.timeCheck || checkKnown) && r.Time > limit:
				b.markStale()
				return deps, nil
			}
		}
		d.ver, d.hasVer = r.Version(), true
	}
	if prevented {
		c.stats.prevented.Add(1)
		return deps, nil
	}
	ttl := b.spec.opts.ttl
	if ttl == 0 {
		ttl = c.cfg.defaultTTL
	}
	m := layout.Meta{Stored: now.UnixNano(), Delta: now.Sub(b.start), Grace: b.spec.opts.grace}
	storeTTL := ttl
	if ttl > 0 {
		m.Expires = now.Add(ttl).UnixNano()
		storeTTL += m.Grace // readable while it may be served stale
	}
	item := []Item{{Key: b.key, Value: encodeEntry(m, deps, value), TTL: storeTTL}}
	if read != nil {
		stored, err := c.storeSetIfUnchanged(ctx, item[0], keys, read)
		switch {
		case err != nil:
			return deps, err
		case !stored: // a record changed since the lookup: an invalidation
			c.stats.skippedStale.Add(1)
			b.markStale()
			return deps, nil
		}
	} else if err := c.storeWrite(ctx, "set", item, c.store.Set); err != nil {
		return deps, err
	}
	c.stats.stores.Add(1)
	return deps, nil
}

// fromPrefetch returns the records at keys as b's lookup read them along
// with the entry (a Prefetcher store), their bytes, and the clock, when it
// read every one and none needs what readRecords does (creating a missing
// record, healing one); else read is nil.
func (b *Build) fromPrefetch(keys []string) (recs []layout.Record, read [][]byte, clk layout.Stamp) {
	if b.prefetched == nil || b.spec == nil {
		return nil, nil, layout.Stamp{}
	}
	c, pre := b.c, b.spec.prefetch
	if c.seq != nil {
		clk, _ = layout.DecodeClock(b.prefetched[len(pre)-1]) // none yet: unknown, as readRecords finds it
	}
	recs = make([]layout.Record, len(keys))
	read = make([][]byte, len(keys))
	for i, k := range keys {
		j := slices.Index(pre, k)
		if j < 0 || (c.seq != nil && j == len(pre)-1) || b.prefetched[j] == nil {
			return nil, nil, layout.Stamp{}
		}
		r, ok := layout.DecodeRecord(b.prefetched[j])
		if !ok || (clk.Known() && r.Seq != 0 && r.Epoch != clk.Epoch) {
			return nil, nil, layout.Stamp{}
		}
		recs[i], read[i] = r, b.prefetched[j]
	}
	return recs, read, clk
}

// ownLock reports a lock taken by b's own transaction: a transaction reads
// its own writes, as Django cache-tagging's does, and its end invalidates
// whatever it stored meanwhile.
func (b *Build) ownLock(lock int64) bool {
	return b.tx != nil && b.tx.lock == lock
}

// readRecords reads the tag records at keys, creating the missing ones, and
// (on a store with a clock, in the same batch) the clock, which it returns
// and records. A created record has no stamp and no time: creating a tag
// is not invalidating it (a record lost to eviction takes its entries with
// it, since its version is new). A record that cannot be read, or that
// carries a stamp of an epoch the clock no longer has (the clock was lost),
// is healed: invalidated anew, so that later builds can be checked against
// it; a build that saw it unreadable stores nothing.
func (c *Cache) readRecords(ctx context.Context, keys []string) ([]layout.Record, layout.Stamp, error) {
	q := keys
	if c.seq != nil {
		q = append(keys[:len(keys):len(keys)], c.clockKey)
	}
	raw, err := c.storeGet(ctx, q)
	if err != nil {
		return nil, layout.Stamp{}, err
	}
	var clk layout.Stamp
	if c.seq != nil {
		clk, _ = layout.DecodeClock(raw[len(keys)])
		c.observe(clk)
	}
	recs := make([]layout.Record, len(keys))
	var missing []Item
	var at []int
	var heal []string
	corrupt := false
	for i, v := range raw[:len(keys)] {
		r, ok := layout.DecodeRecord(v)
		switch {
		case v == nil:
			created := layout.Record{Rand: randUint64()}
			missing = append(missing, Item{Key: keys[i], Value: created.Encode(), TTL: c.cfg.tagTTL})
			at = append(at, i)
		case !ok:
			corrupt = true
			heal = append(heal, c.tagName(keys[i]))
		case clk.Known() && r.Seq != 0 && r.Epoch != clk.Epoch:
			heal = append(heal, c.tagName(keys[i]))
		}
		recs[i] = r
	}
	if len(heal) > 0 {
		c.cfg.logger.Info("tmplcache: re-invalidating tag records that are unreadable or older than the store's clock",
			"tags", len(heal), "first", truncate(heal[0], 40))
		if err := c.invalidate(Detach(ctx), heal, nil, 0); err != nil {
			return nil, clk, err
		}
	}
	if corrupt {
		return nil, clk, fmt.Errorf("%w: unreadable tag record (re-invalidated)", ErrCorrupt)
	}
	if len(missing) == 0 {
		return recs, clk, nil
	}
	// Add, not Set: a concurrent invalidation must win over our creation.
	if err := c.storeWrite(ctx, "add", missing, c.store.Add); err != nil {
		return nil, clk, err
	}
	mkeys := make([]string, len(missing))
	for i, it := range missing {
		mkeys[i] = it.Key
	}
	again, err := c.storeGet(ctx, mkeys)
	if err != nil {
		return nil, clk, err
	}
	for j, i := range at {
		r, ok := layout.DecodeRecord(again[j])
		switch {
		case again[j] == nil:
			// An evicting store (memcached, a full MemoryStore) dropped it
			// at once: nothing is wrong with the store, but the build
			// cannot be checked against it.
			return nil, clk, fmt.Errorf("tmplcache: tag record %q evicted as soon as it was created (is the store full?)", keys[i])
		case !ok:
			return nil, clk, fmt.Errorf("%w: tag record %q after Add", ErrCorrupt, keys[i])
		}
		recs[i] = r
	}
	return recs, clk, nil
}
