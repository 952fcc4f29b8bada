package tmplcache

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// InvalidateTags makes every entry that depends on any of the tags invalid,
// at once and on every process sharing the store: it writes a new version
// for each tag (one batch, whatever the number of entries). After it
// returns, no read returns a value built from data read before the call.
//
// Inside a transaction ([Cache.Transaction]) the tags also stay locked until
// it ends, and are invalidated again then. If the store fails, the error is
// returned and the tags are remembered: no entry is served by this process
// until they have been re-applied.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) error {
	if c.err != nil {
		return c.err
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	tags = dedupe(tags)
	tx := activeTx(ctx)
	return c.invalidate(ctx, tags, tx, nil)
}

func dedupe(tags []string) []string {
	if len(tags) < 2 {
		return tags
	}
	out := slices.Clone(tags)
	slices.Sort(out)
	return slices.Compact(out)
}

// invalidate writes new records for tags. Within tx they carry tx's lock
// and are remembered by tx. keep maps tag keys to another transaction's
// lock that must survive this write (see Tx.End).
func (c *Cache) invalidate(ctx context.Context, tags []string, tx *Tx, keep map[string]int64) error {
	now := c.now()
	var lockedUntil int64
	if tx != nil {
		lockedUntil = tx.lock
	}
	items := make([]Item, len(tags))
	for i, t := range tags {
		k := c.tagKey(t)
		lock := lockedUntil
		if lock == 0 {
			lock = keep[k]
		}
		items[i] = Item{Key: k, Value: newRecord(now, lock).encode(), TTL: c.cfg.tagTTL}
		if tx != nil {
			tx.wrote(t)
		}
	}
	if err := c.storeWrite(ctx, "invalidate", items, c.store.Set); err != nil {
		c.pend.add(tags)
		return err
	}
	c.stats.invalidations.Add(uint64(len(tags)))
	return nil
}

// pending holds tags whose invalidation failed. While it is not empty,
// reads serve nothing: one of them re-applies the tags, the others miss,
// and the set empties only once the re-application has landed, so no read
// can slip between the two.
type pending struct {
	any      atomic.Bool
	replay   sync.Mutex // held by the one read re-applying the tags
	mu       sync.Mutex
	tags     map[string]struct{}
	failures uint64 // bumped by every add, to tell a landed replay from a superseded one
}

func (p *pending) nonEmpty() bool { return p.any.Load() }

func (p *pending) add(tags []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tags == nil {
		p.tags = make(map[string]struct{})
	}
	for _, t := range tags {
		p.tags[t] = struct{}{}
	}
	p.failures++
	p.any.Store(true)
}

func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tags)
}

func (p *pending) snapshot() ([]string, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tags := make([]string, 0, len(p.tags))
	for t := range p.tags {
		tags = append(tags, t)
	}
	return tags, p.failures
}

// landed removes tags after their re-application succeeded, unless another
// failure happened meanwhile (its tags, perhaps the same, stay pending).
func (p *pending) landed(tags []string, failures uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failures != failures {
		return
	}
	for _, t := range tags {
		delete(p.tags, t)
	}
	p.any.Store(len(p.tags) > 0)
}

// errReplaying makes a read miss while another one re-applies invalidations.
var errReplaying = fmt.Errorf("%w: re-applying failed invalidations", ErrUnavailable)

func (c *Cache) replayPending(ctx context.Context) error {
	if !c.pend.replay.TryLock() {
		return errReplaying
	}
	defer c.pend.replay.Unlock()
	tags, failures := c.pend.snapshot()
	if len(tags) == 0 {
		return nil
	}
	if err := c.invalidate(ctx, tags, nil, nil); err != nil {
		return err // invalidate added them again
	}
	c.pend.landed(tags, failures)
	c.cfg.logger.Info("tmplcache: re-applied invalidations that had failed", "tags", len(tags))
	return nil
}

// later runs another invalidation of tags after the replica delay.
func (c *Cache) later(tags []string) {
	c.delayMu.Lock()
	defer c.delayMu.Unlock()
	if c.delayed == nil {
		c.delayed = make(map[*time.Timer][]string)
	}
	var t *time.Timer
	t = time.AfterFunc(c.cfg.replicaDelay, func() {
		c.delayMu.Lock()
		_, ok := c.delayed[t]
		delete(c.delayed, t)
		c.delayMu.Unlock()
		if ok {
			_ = c.invalidate(context.Background(), tags, nil, nil)
		}
	})
	c.delayed[t] = tags
}
