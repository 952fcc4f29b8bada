package tmplcache

import (
	"context"
	"fmt"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// The cache's reading of its store's logical clock ([Sequencer]) is the
// latest clock value any reply of the store showed this process: an
// invalidation's new stamp, or the clock read along with tag records when
// a build checks them. A clock only moves forward within an epoch, so that
// value is never ahead of the store's: a build that takes it as the moment
// its data was read is conservative (it may decline to store after an
// invalidation it could have ignored) and never wrong. Taking a reading is
// an atomic load, so a tracked request costs no round trip.

// reading returns the latest clock value seen, or the zero Stamp.
func (c *Cache) reading() layout.Stamp {
	if p := c.seen.Load(); p != nil {
		return *p
	}
	return layout.Stamp{}
}

// syncClock returns a reading, fetching the clock (or creating it, if no
// invalidation ever did) when this process has seen none yet: once per
// process, at its first tracked request or build.
func (c *Cache) syncClock(ctx context.Context) layout.Stamp {
	if r := c.reading(); r.Known() || c.seq == nil {
		return r
	}
	raw, err := c.storeGet(ctx, []string{c.clockKey})
	if err != nil {
		return layout.Stamp{}
	}
	if clk, ok := layout.DecodeClock(raw[0]); ok {
		c.observe(clk)
	} else {
		_ = c.storeInvalidate(ctx, nil) // an invalidation of no tag starts the clock
	}
	return c.reading()
}

// observe records a clock value a store reply showed. Within an epoch the
// larger value wins; a value of another epoch replaces the reading (the
// clock was lost and restarted, or this is a straggler from before: either
// way every reading is a value the clock really had).
func (c *Cache) observe(s layout.Stamp) {
	if !s.Known() {
		return
	}
	for {
		old := c.seen.Load()
		if old != nil && old.Epoch == s.Epoch && old.Seq >= s.Seq {
			return
		}
		if c.seen.CompareAndSwap(old, &s) {
			return
		}
	}
}

// storeInvalidate runs one Sequencer.Invalidate call, bounded like every
// store call, and records the clock value it returns.
func (c *Cache) storeInvalidate(ctx context.Context, inv []Invalidation) error {
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return err
	}
	raw, err := c.seq.Invalidate(cctx, c.clockKey, inv)
	if err == nil {
		clk, ok := layout.DecodeClock(raw)
		if !ok {
			err = fmt.Errorf("%w: clock value of %d bytes", ErrCorrupt, len(raw))
		}
		c.observe(clk)
	}
	return c.done(ctx, cancel, "invalidate", err)
}
