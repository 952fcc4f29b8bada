package tmplcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

const (
	breakerClosed int32 = iota
	breakerOpen
	breakerHalfOpen
)

// breaker short-circuits a store that keeps failing, so a dead or
// black-holed server costs one timeout per cooldown instead of one per call.
type breaker struct {
	threshold int
	cooldown  time.Duration

	state atomic.Int32
	fails atomic.Int32 // consecutive failures

	mu        sync.Mutex
	openUntil time.Time
	trialOut  bool // a half-open trial call is in flight
}

// allow reports whether a call may go to the store now.
func (b *breaker) allow(now time.Time) error {
	if b.state.Load() == breakerClosed {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case breakerClosed:
		return nil
	case breakerOpen:
		if now.Before(b.openUntil) {
			return ErrUnavailable
		}
		b.state.Store(breakerHalfOpen)
	}
	if b.trialOut {
		return ErrUnavailable
	}
	b.trialOut = true
	return nil
}

type breakerChange int

const (
	noChange breakerChange = iota
	startedFailing
	opened
	closed
)

func (b *breaker) success() breakerChange {
	if b.state.Load() == breakerClosed && b.fails.Load() == 0 {
		return noChange
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails.Store(0)
	b.trialOut = false
	if b.state.Load() != breakerClosed {
		b.state.Store(breakerClosed)
		return closed
	}
	return noChange
}

// abandon frees the half-open trial slot of a call whose caller gave up:
// it tells nothing about the store, and must not keep the breaker shut.
func (b *breaker) abandon() {
	if b.state.Load() == breakerClosed {
		return
	}
	b.mu.Lock()
	b.trialOut = false
	b.mu.Unlock()
}

func (b *breaker) failure(now time.Time) breakerChange {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.fails.Add(1)
	switch b.state.Load() {
	case breakerHalfOpen:
		b.trialOut = false
		b.state.Store(breakerOpen)
		b.openUntil = now.Add(b.cooldown)
		return noChange // still open: no new state to report
	case breakerClosed:
		if int(n) >= b.threshold {
			b.state.Store(breakerOpen)
			b.openUntil = now.Add(b.cooldown)
			return opened
		}
		if n == 1 {
			return startedFailing
		}
	}
	return noChange
}

// callCtx bounds one store call. Local stores never wait on I/O, so they
// skip the timer (and its allocations) on the hot path.
func (c *Cache) callCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if c.br.state.Load() != breakerClosed { // the clock is read only when it matters
		if err := c.br.allow(c.now()); err != nil {
			c.stats.shortCircuits.Add(1)
			return nil, nil, err
		}
	}
	if c.local {
		return ctx, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	return ctx, cancel, nil
}

// done records the outcome of a store call: counters, breaker, logging.
// Only state changes are logged at Warn/Info, never every failing call.
// parent is the caller's context: when it ended first (cancelled, or its
// own deadline passed), the failure is the caller's, not the store's.
func (c *Cache) done(parent context.Context, cancel context.CancelFunc, op string, err error) error {
	callerGaveUp := parent.Err() != nil
	if cancel != nil {
		cancel()
	}
	if err == nil {
		if c.br.success() == closed {
			c.cfg.logger.Info("tmplcache: store answers again; circuit closed", "op", op)
		}
		return nil
	}
	c.stats.storeErrors.Add(1)
	if errors.Is(err, context.DeadlineExceeded) {
		c.stats.timeouts.Add(1)
	}
	err = fmt.Errorf("tmplcache: store %s: %w", op, err)
	if callerGaveUp {
		c.br.abandon()
		return err // not the store's fault
	}
	switch c.br.failure(c.now()) {
	case startedFailing:
		c.cfg.logger.Warn("tmplcache: store failing; rendering uncached", "op", op, "err", err)
	case opened:
		c.stats.breakerOpens.Add(1)
		c.cfg.logger.Warn("tmplcache: store keeps failing; circuit open",
			"op", op, "err", err, "cooldown", c.cfg.breakerCooldown)
	default:
		c.cfg.logger.Debug("tmplcache: store error", "op", op, "err", err)
	}
	return err
}

func (c *Cache) storeGet(ctx context.Context, keys []string) ([][]byte, error) {
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return nil, err
	}
	vals, err := c.store.Get(cctx, keys)
	if err == nil && len(vals) != len(keys) {
		err = fmt.Errorf("%w: store returned %d values for %d keys", ErrCorrupt, len(vals), len(keys))
	}
	return vals, c.done(ctx, cancel, "get", err)
}

func (c *Cache) storeGetEntry(ctx context.Context, key string, recs [][]byte) ([]byte, [][]byte, error) {
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return nil, nil, err
	}
	raw, tags, err := c.entries.GetEntry(cctx, key, recs)
	return raw, tags, c.done(ctx, cancel, "get", err)
}

func (c *Cache) storeGetEntryWith(ctx context.Context, key string, recs [][]byte, also []string) ([]byte, [][]byte, [][]byte, error) {
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	raw, tags, vals, err := c.pre.GetEntryWith(cctx, key, recs, also)
	if err == nil && vals != nil && len(vals) != len(also) {
		err = fmt.Errorf("%w: store returned %d values for %d keys", ErrCorrupt, len(vals), len(also))
	}
	return raw, tags, vals, c.done(ctx, cancel, "get", err)
}

func (c *Cache) storeSetIfUnchanged(ctx context.Context, item Item, keys []string, vals [][]byte) (bool, error) {
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return false, err
	}
	stored, err := c.pre.SetIfUnchanged(cctx, item, keys, vals)
	return stored, c.done(ctx, cancel, "set", err)
}

func (c *Cache) storeWrite(ctx context.Context, op string, items []Item,
	write func(context.Context, []Item) error) error {
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return err
	}
	err = write(cctx, items)
	return c.done(ctx, cancel, op, err)
}
