package tmplcache

import (
	"context"
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

// pending holds tags whose invalidation failed. While it is not empty, reads
// first try to re-apply them and serve nothing until they succeed: an entry
// those invalidations concern must never be served.
type pending struct {
	any  atomic.Bool
	mu   sync.Mutex
	tags map[string]struct{}
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
	p.any.Store(true)
}

func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tags)
}

// take removes and returns the pending tags.
func (p *pending) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	tags := make([]string, 0, len(p.tags))
	for t := range p.tags {
		tags = append(tags, t)
	}
	p.tags = nil
	p.any.Store(false)
	return tags
}

func (c *Cache) replayPending(ctx context.Context) error {
	tags := c.pend.take()
	if len(tags) == 0 {
		return nil
	}
	if err := c.invalidate(ctx, tags, nil, nil); err != nil {
		return err // invalidate put them back
	}
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
