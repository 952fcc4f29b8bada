package memcachestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

var _ tmplcache.Sequencer = (*Store)(nil)

// maxCASRounds bounds the compare-and-swap loops: each lost round means
// another invalidation of the same key landed, so a loop that keeps losing
// is a storm of invalidations, and the caller's deadline ends it anyway.
const maxCASRounds = 100

// errCASRounds reports a key that kept changing under a compare-and-swap.
var errCASRounds = errors.New("memcachestore: too many concurrent changes of one key")

// Invalidate implements [tmplcache.Sequencer] with compare-and-swap, since
// memcached runs no scripts: the clock advances with gets/cas, the records
// are read in one get and each written with cas (add when missing), and a
// record that changed in between is read and decided again. Stamps never
// go backwards: a record already holding a later stamp keeps it (see
// layout.Apply). Round trips: two for the clock, one read, one write per
// record.
func (s *Store) Invalidate(ctx context.Context, clock string, inv []tmplcache.Invalidation) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	now := time.Now()
	exps := make([]int32, len(inv))
	for i, in := range inv {
		exp, err := expiration(in.TTL, now)
		if err != nil {
			return nil, err
		}
		exps[i] = exp
	}
	var out []byte
	err := s.run(ctx, "invalidate", func(ctx context.Context) error {
		clk, err := s.advance(mapKey(clock))
		if err != nil {
			return err
		}
		mkeys := make([]string, len(inv))
		for i, in := range inv {
			mkeys[i] = mapKey(in.Key)
		}
		items, err := s.getMulti(mkeys)
		if err != nil {
			return err
		}
		for i, in := range inv {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, ok := layout.DecodeRecord(in.Record)
			if !ok {
				return fmt.Errorf("memcachestore: invalidate: unreadable record for %q", in.Key)
			}
			if clk, err = s.stamp(mkeys[i], items[mkeys[i]], rec, in.Release, exps[i], clock, clk); err != nil {
				return err
			}
		}
		out = layout.AppendClock(nil, clk)
		return nil
	})
	return out, err
}

// advance moves the clock at mkey forward by one and returns its new value.
func (s *Store) advance(mkey string) (layout.Stamp, error) {
	for range maxCASRounds {
		it, err := s.client.Get(mkey)
		if errors.Is(err, memcache.ErrCacheMiss) {
			clk := layout.Next(nil, layout.NewEpoch())
			err = s.client.Add(&memcache.Item{Key: mkey, Value: layout.AppendClock(nil, clk)})
			if errors.Is(err, memcache.ErrNotStored) {
				continue // another process created it first
			}
			return clk, err
		}
		if err != nil {
			return layout.Stamp{}, err
		}
		clk := layout.Next(it.Value, layout.NewEpoch())
		it.Value = layout.AppendClock(nil, clk)
		it.Flags, it.Expiration = 0, 0
		err = s.client.CompareAndSwap(it)
		if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrNotStored) {
			continue
		}
		return clk, err
	}
	return layout.Stamp{}, errCASRounds
}

// stamp writes one record stamped clk over it (nil: missing), following
// layout.Apply's verdicts, and returns the clock value it ended up using
// (a record of another epoch makes it advance the clock again).
func (s *Store) stamp(mkey string, it *memcache.Item, rec layout.Record, release int64, exp int32,
	clock string, clk layout.Stamp) (layout.Stamp, error) {
	force := false
	for range maxCASRounds {
		var old []byte
		if it != nil && it.Flags != flagManifest {
			old = it.Value
		}
		out, verdict := layout.Apply(old, rec, release, clk, force)
		if verdict == layout.Retry {
			again, err := s.advance(mapKey(clock))
			if err != nil {
				return clk, err
			}
			// Our epoch still current: the record's is the stale one.
			force, clk = again.Epoch == clk.Epoch, again
			continue
		}
		if out == nil {
			return clk, nil // a later stamp holds the record, lock unchanged
		}
		var err error
		if it == nil {
			err = s.client.Add(&memcache.Item{Key: mkey, Value: out, Expiration: exp})
		} else {
			it.Value, it.Flags, it.Expiration = out, 0, exp
			err = s.client.CompareAndSwap(it)
		}
		if !errors.Is(err, memcache.ErrNotStored) && !errors.Is(err, memcache.ErrCASConflict) {
			return clk, err
		}
		// Changed meanwhile: read it again and decide again.
		if it, err = s.client.Get(mkey); errors.Is(err, memcache.ErrCacheMiss) {
			it = nil
		} else if err != nil {
			return clk, err
		}
	}
	return clk, errCASRounds
}
