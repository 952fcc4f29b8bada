package tmplcache

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
)

// Tx is a cache transaction, begun with [Cache.BeginTx] (or run by
// [Cache.Transaction]). Invalidations made with its context take effect at
// once and lock their tags: no build stores an entry depending on them
// until the transaction ends, when they are invalidated again (commit or
// rollback alike), since builds that ran meanwhile may have read data that
// was not committed yet. A nested transaction is a savepoint: its tags stay
// locked until the outermost one ends. Locks expire by themselves after
// [WithLockTTL], so a process that dies mid-transaction cannot hold them.
//
// A lock is the lock time written into the tag's record; each outermost
// transaction has its own (savepoints share it), and End releases a tag
// only if the record still holds its lock; an invalidation outside any
// transaction keeps it. A record holds one lock: if two transactions lock
// one tag, the lock written last survives the other's End, but the one
// written first does not survive the end of the one written last, which
// leaves that first transaction unprotected between its commit and its End
// (its End still invalidates everything built meanwhile).
type Tx struct {
	c      *Cache
	parent *Tx
	lock   int64 // Unix nanoseconds; unique per outermost transaction

	mu    sync.Mutex
	ended bool
	tags  map[string]struct{}
}

type txKey struct{}

func activeTx(ctx context.Context) *Tx {
	tx, _ := ctx.Value(txKey{}).(*Tx)
	return activeTxFrom(tx)
}

// InTransaction reports whether ctx carries a cache transaction that has
// not ended ([Cache.Transaction], [Cache.BeginTx]): invalidations made with
// ctx then lock their tags until it ends.
func InTransaction(ctx context.Context) bool { return activeTx(ctx) != nil }

// BeginTx begins a transaction; invalidations made with the returned
// context belong to it. End it with [Tx.End] (middleware that cannot wrap
// a function uses this pair; others use [Cache.Transaction]).
func (c *Cache) BeginTx(ctx context.Context) (context.Context, *Tx) {
	tx := &Tx{c: c, parent: activeTx(ctx), tags: map[string]struct{}{}}
	if tx.parent != nil {
		tx.lock = tx.parent.lock
	} else {
		// The low bits make two transactions' locks differ even when they
		// begin in the same nanosecond on two machines.
		tx.lock = c.now().Add(c.cfg.lockTTL).UnixNano() | int64(rand.Uint32()&0x3ff)
	}
	return context.WithValue(ctx, txKey{}, tx), tx
}

// Transaction runs fn inside a transaction (see [Tx]) and ends it however fn
// returns, panics included. It returns fn's error joined with the error of
// re-applying the invalidations, if any.
func (c *Cache) Transaction(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if c.err != nil {
		return c.err
	}
	txCtx, tx := c.BeginTx(ctx)
	defer func() {
		endErr := tx.End(ctx)
		err = errors.Join(err, endErr)
	}()
	return fn(txCtx)
}

func (tx *Tx) wrote(tag string) {
	tx.mu.Lock()
	tx.tags[tag] = struct{}{}
	tx.mu.Unlock()
}

// End ends the transaction. A savepoint hands its tags to the enclosing
// transaction; the outermost one invalidates them all again and unlocks
// them (and, with [WithReplicaDelay], schedules one more pass). End is
// idempotent.
func (tx *Tx) End(ctx context.Context) error {
	tx.mu.Lock()
	if tx.ended {
		tx.mu.Unlock()
		return nil
	}
	tx.ended = true
	tags := tx.tags
	tx.mu.Unlock()
	if len(tags) == 0 {
		return nil
	}
	if p := activeTxFrom(tx.parent); p != nil {
		p.mu.Lock()
		for t := range tags {
			p.tags[t] = struct{}{}
		}
		p.mu.Unlock()
		return nil
	}
	c := tx.c
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	// Release our lock; a lock another transaction took since stays (its
	// data is not committed yet).
	err := c.invalidate(context.WithoutCancel(ctx), names, nil, tx.lock)
	if c.cfg.replicaDelay > 0 {
		c.later(names)
	}
	return err
}

func activeTxFrom(tx *Tx) *Tx {
	for tx != nil {
		tx.mu.Lock()
		ended := tx.ended
		tx.mu.Unlock()
		if !ended {
			return tx
		}
		tx = tx.parent
	}
	return nil
}
