package tmplcache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
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
	if err := checkEachTag(tags); err != nil {
		return err // any number of tags: MaxTags bounds an entry, not a call
	}
	if len(tags) == 0 {
		return nil
	}
	tags = dedupe(tags)
	tx := activeTx(ctx)
	return c.invalidate(ctx, tags, tx, 0)
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
// and are remembered by tx. release is the lock of a transaction that is
// ending: records holding it are unlocked, any other lock is kept.
func (c *Cache) invalidate(ctx context.Context, tags []string, tx *Tx, release int64) error {
	var lock int64
	if tx != nil {
		lock = tx.lock
		for _, t := range tags {
			tx.wrote(t)
		}
	}
	now := c.now().UnixNano()
	var err error
	if c.seq != nil {
		inv := make([]Invalidation, len(tags))
		for i, t := range tags {
			rec := layout.Record{Rand: randUint64(), Time: now, Lock: lock}
			inv[i] = Invalidation{Key: c.tagKey(t), Record: rec.Encode(), Release: release, TTL: c.cfg.tagTTL}
		}
		err = c.storeInvalidate(ctx, inv)
	} else {
		err = c.invalidateUnclocked(ctx, tags, lock, release, now)
	}
	if err != nil {
		c.pend.add(tags)
		return err
	}
	c.stats.invalidations.Add(uint64(len(tags)))
	return nil
}

// invalidateUnclocked serves stores without a [Sequencer]: records carry
// the invalidation's wall-clock time, and builds compare it with a margin.
// The lock rule is [Sequencer]'s, except that it is not atomic: a lock
// taken between the read and the write is lost, and a plain invalidation
// (no read) unlocks.
func (c *Cache) invalidateUnclocked(ctx context.Context, tags []string, lock, release, now int64) error {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = c.tagKey(t)
	}
	var old [][]byte
	if release != 0 {
		old, _ = c.storeGet(ctx, keys) // unreadable: unlock
	}
	items := make([]Item, len(tags))
	for i, k := range keys {
		rec := layout.Record{Rand: randUint64(), Time: now, Lock: lock}
		if lock == 0 && old != nil {
			if r, ok := layout.DecodeRecord(old[i]); ok && r.Lock != release {
				rec.Lock = r.Lock
			}
		}
		items[i] = Item{Key: k, Value: rec.Encode(), TTL: c.cfg.tagTTL}
	}
	return c.storeWrite(ctx, "invalidate", items, c.store.Set)
}

// randUint64 makes the random half of a tag version.
func randUint64() uint64 { return rand.Uint64() }

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
	if err := c.invalidate(ctx, tags, nil, 0); err != nil {
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
			_ = c.invalidate(context.Background(), tags, nil, 0)
		}
	})
	c.delayed[t] = tags
}
