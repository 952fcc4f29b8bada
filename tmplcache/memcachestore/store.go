package memcachestore

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Store is a [tmplcache.Store] on memcached. It is safe for concurrent use.
// Make one with [New].
//
// It is shared (it does not implement [tmplcache.Local]), and it does not
// implement [tmplcache.EntryGetter]: memcached cannot read an entry and the
// tag records it names in one command. A cache reads an entry, then its
// records, the first time; once it knows them, it reads both with one Get.
type Store struct {
	client *memcache.Client
	cfg    config
	err    error // configuration error, returned by every call

	running atomic.Int64 // goroutines of calls (see run) that have not returned
}

var _ tmplcache.Store = (*Store)(nil)

// New returns a store that keeps its items in the memcached servers of
// client, which it uses as it is (it changes none of its settings). Its
// Timeout bounds how long a call the cache gave up on lingers in the
// background (gomemcache uses 500 ms when it is zero): set it near the
// cache's [tmplcache.WithTimeout]. Set client.MaxIdleConns above your peak
// of concurrent cache calls, or connections are opened and closed all the
// time.
//
// Invalid options, or a nil client, do not panic: every call on the store
// then returns an error (wrapping [tmplcache.ErrBadOption] or
// [ErrNilClient]).
func New(client *memcache.Client, opts ...Option) *Store {
	var cfg config
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	cfg.fill()
	errs := cfg.errs
	if client == nil {
		errs = append(errs, ErrNilClient)
	}
	return &Store{client: client, cfg: cfg, err: errors.Join(errs...)}
}

// Get implements [tmplcache.Store]: one GetMulti for all keys (and one more
// for the chunks of values stored in chunks). A missing key, or a value one
// of whose chunks is missing, reads as nil.
func (s *Store) Get(ctx context.Context, keys []string) ([][]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	mkeys := make([]string, len(keys))
	for i, k := range keys {
		mkeys[i] = mapKey(k)
	}
	var out [][]byte
	err := s.run(ctx, "get", func(ctx context.Context) error {
		var err error
		out, err = s.get(ctx, mkeys)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// get reads memcached keys, in order.
func (s *Store) get(ctx context.Context, mkeys []string) ([][]byte, error) {
	items, err := s.getMulti(mkeys)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(mkeys))
	var chunked []int // indexes of manifests
	var manifests []manifest
	var ckeys []string
	for i, k := range mkeys {
		it := items[k]
		switch {
		case it == nil:
		case it.Flags != flagManifest:
			out[i] = it.Value
		default:
			m, ok := decodeManifest(it.Value)
			if !ok {
				continue // not ours, or damaged: a miss
			}
			chunked, manifests = append(chunked, i), append(manifests, m)
			for j := range int(m.n) {
				ckeys = append(ckeys, m.chunkKey(j))
			}
		}
	}
	if len(chunked) == 0 {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the caller is gone
	}
	chunks, err := s.getMulti(ckeys)
	if err != nil {
		return nil, err
	}
	for j, i := range chunked {
		out[i] = assemble(manifests[j], chunks)
	}
	return out, nil
}

// getMulti is client.GetMulti, minus its goroutine and channel for the
// commonest read, one key (a cache entry): the same command, one round trip.
func (s *Store) getMulti(mkeys []string) (map[string]*memcache.Item, error) {
	if len(mkeys) != 1 {
		return s.client.GetMulti(mkeys)
	}
	it, err := s.client.Get(mkeys[0])
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return map[string]*memcache.Item{it.Key: it}, nil
}

// Set implements [tmplcache.Store]: one memcached set per item (two or more
// for a value stored in chunks), in order, stopping at the first error.
func (s *Store) Set(ctx context.Context, items []tmplcache.Item) error {
	return s.write(ctx, "set", items, false)
}

// Add implements [tmplcache.Store]: one memcached add per item. An item whose
// key is present is left untouched; that is not an error.
func (s *Store) Add(ctx context.Context, items []tmplcache.Item) error {
	return s.write(ctx, "add", items, true)
}

func (s *Store) write(ctx context.Context, op string, items []tmplcache.Item, add bool) error {
	if s.err != nil {
		return s.err
	}
	if len(items) == 0 {
		return nil
	}
	writes, err := s.prepare(items)
	if err != nil {
		return err
	}
	return s.run(ctx, op, func(ctx context.Context) error {
		for _, w := range writes {
			if err := ctx.Err(); err != nil {
				return err // the caller is gone
			}
			if err := s.store(w, add); err != nil {
				return err
			}
		}
		return nil
	})
}

// prepare maps items to memcached items before any goroutine sees them, so
// an abandoned call holds no memory of its caller's but the values (which
// the caller never modifies, see [tmplcache.Store]).
func (s *Store) prepare(items []tmplcache.Item) ([]write, error) {
	now := time.Now()
	writes := make([]write, len(items))
	for i, it := range items {
		exp, err := expiration(it.TTL, now)
		if err != nil {
			return nil, err
		}
		chunkExp := exp
		if it.TTL > 0 {
			chunkExp, _ = expiration(it.TTL+time.Second, now) // outlive the manifest
		}
		writes[i] = newWrite(mapKey(it.Key), it.Value, exp, chunkExp, s.cfg.chunkSize())
	}
	return writes, nil
}

func (s *Store) store(w write, add bool) error {
	for _, c := range w.chunks {
		if err := s.client.Set(c); err != nil {
			return err
		}
	}
	if !add {
		return s.client.Set(w.item)
	}
	err := s.client.Add(w.item)
	if !errors.Is(err, memcache.ErrNotStored) {
		return err
	}
	// Present: left untouched. Our chunks are of no use to anyone.
	for _, c := range w.chunks {
		_ = s.client.Delete(c.Key) // best effort: they expire anyway
	}
	return nil
}

// Delete implements [tmplcache.Store]: one memcached delete per key; a
// missing key is not an error. The chunks of a value stored in chunks are
// left to expire with it (one second after its own expiry), or to be
// evicted.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	if s.err != nil {
		return s.err
	}
	if len(keys) == 0 {
		return nil
	}
	mkeys := make([]string, len(keys))
	for i, k := range keys {
		mkeys[i] = mapKey(k)
	}
	return s.run(ctx, "delete", func(ctx context.Context) error {
		for _, k := range mkeys {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.client.Delete(k); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
				return err
			}
		}
		return nil
	})
}
