package tmplcache

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// MemoryStore is the embedded default [Store]: a map in this process,
// backed by github.com/patrickmn/go-cache, within a byte budget
// ([MaxBytes], default [DefaultMemoryMaxBytes]).
//
// The budget counts what the store keeps alive: every key and value,
// rounded up as the allocator rounds them, and an estimate of each item's
// bookkeeping, so that a full store's live heap is within a few per cent of
// its budget whatever the item sizes. Clients that choose keys (query
// strings, say) cannot grow it further: past the budget, writes evict.
// Eviction is S3-FIFO: a key read since it was stored outlives a flood of
// keys written and never read again, and a hit takes no lock of the
// store's own (memory_policy.go says how and why). Tag records are evicted
// like anything else; an entry whose tag record is gone is invalid, never
// stale. A hit looks up the entry alone while no tag record changed since
// the entry's last read: it reuses the records that read found, each still
// compared with the entry's versions (memory_reread.go says why that is
// exact).
//
// The budget bounds the store, not the process: the Go collector lets the
// heap grow past the live data (by GOGC per cent, 100 by default) before
// it collects, so a process that is mostly cache peaks near twice its
// budget. To hold it closer, set GOMEMLIMIT some 25% above the budget (a
// tighter limit costs collections back to back under a write flood).
//
// It starts no goroutine: an expired item is reclaimed by the read that
// finds it or the eviction that reaches it, and every other one by a sweep
// that reads and writes run once per minute. [MemoryStore.Stats] reports
// what it holds and evicts. Its zero value is not usable; call
// [NewMemoryStore].
type MemoryStore struct {
	// c maps each key to its *memItem. go-cache's own expiry is not used:
	// an item carries its expiry so the read that finds it expired can
	// reclaim it.
	c   *gocache.Cache
	err error // configuration error, returned by every call
	max int64

	// mu serialises writes: the policy's accounting and c change together
	// under it. Reads take only go-cache's read lock.
	mu          sync.Mutex
	p           memPolicy
	evictions   uint64
	expirations uint64
	tooLarge    uint64

	lastSweep atomic.Int64 // Unix nanoseconds

	// recGen counts changes to items holding tag records, so that a read
	// of an entry can reuse the records its last read found (see
	// memory_reread.go).
	recGen atomic.Uint64

	clocks memoryClocks // the logical clocks (memory_clock.go): never evicted
}

const memorySweepInterval = time.Minute

var _ interface {
	Store
	EntryGetter
	Local
} = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-process store. Invalid options do not
// panic: every call on the store then returns an error wrapping
// [ErrBadOption].
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	var cfg memoryConfig
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	cfg.fill()
	m := &MemoryStore{
		c:   gocache.New(gocache.NoExpiration, 0),
		err: errors.Join(cfg.errs...),
		max: cfg.maxBytes,
		p:   newMemPolicy(cfg.maxBytes),
	}
	m.lastSweep.Store(time.Now().UnixNano())
	return m
}

// Local reports true: a MemoryStore is private to this process.
func (m *MemoryStore) Local() bool { return true }

// MemoryStats is a snapshot of a [MemoryStore]'s accounting.
type MemoryStats struct {
	Items       int    // items held, expired ones not yet reclaimed included
	Bytes       int64  // bytes accounted: keys, values and bookkeeping
	MaxBytes    int64  // the budget ([MaxBytes]); Bytes never exceeds it after a write
	Evictions   uint64 // items evicted to stay within the budget
	Expirations uint64 // expired items reclaimed
	TooLarge    uint64 // items not stored because they alone exceed the budget
}

// Stats returns the store's current accounting.
func (m *MemoryStore) Stats() MemoryStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return MemoryStats{
		Items:       m.p.items(),
		Bytes:       m.p.bytes(),
		MaxBytes:    m.max,
		Evictions:   m.evictions,
		Expirations: m.expirations,
		TooLarge:    m.tooLarge,
	}
}

// Len returns the number of items held, expired ones not yet reclaimed
// included.
func (m *MemoryStore) Len() int { return m.c.ItemCount() }

// get is the read path: no lock but go-cache's read lock, and no write to
// shared memory once the item's read counter has saturated.
func (m *MemoryStore) get(key string) []byte {
	var now int64
	return m.getAt(key, &now)
}

// getAt is get with *now the time of the read in Unix nanoseconds, read
// from the clock by the first item that needs it (0: not yet), so that a
// read of several items reads the clock once.
func (m *MemoryStore) getAt(key string, now *int64) []byte {
	if it := m.itemAt(key, now); it != nil {
		return it.value
	}
	return nil
}

// itemAt is getAt's item: the live item at key, or nil.
func (m *MemoryStore) itemAt(key string, now *int64) *memItem {
	v, ok := m.c.Get(key)
	if !ok {
		return nil
	}
	it := v.(*memItem)
	if it.expires != 0 {
		if *now == 0 {
			*now = nowNano()
		}
		now := *now
		if now >= it.expires {
			m.reclaim(it)
			return nil
		}
		m.maybeSweep(now)
	}
	it.touch()
	return it
}

func nowNano() int64 { return time.Now().UnixNano() }

// set stores value at key; a ttl of zero or less means no expiry.
func (m *MemoryStore) set(key string, value []byte, ttl time.Duration) {
	now := time.Now().UnixNano()
	m.mu.Lock()
	m.setLocked(key, value, ttl, now, false)
	m.mu.Unlock()
	m.maybeSweep(now)
}

// add stores value at key unless a live item is there, and reports whether
// it stored it (false too for a value that alone exceeds the budget).
func (m *MemoryStore) add(key string, value []byte, ttl time.Duration) bool {
	now := time.Now().UnixNano()
	m.mu.Lock()
	added := m.setLocked(key, value, ttl, now, true)
	m.mu.Unlock()
	m.maybeSweep(now)
	return added
}

// Get implements [Store].
func (m *MemoryStore) Get(ctx context.Context, keys []string) ([][]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = m.get(k)
	}
	return out, nil
}

// Set implements [Store].
func (m *MemoryStore) Set(ctx context.Context, items []Item) error {
	if m.err != nil {
		return m.err
	}
	now := time.Now().UnixNano()
	m.mu.Lock()
	for _, it := range items {
		m.setLocked(it.Key, it.Value, it.TTL, now, false)
	}
	m.mu.Unlock()
	m.maybeSweep(now)
	return nil
}

// Add implements [Store].
func (m *MemoryStore) Add(ctx context.Context, items []Item) error {
	if m.err != nil {
		return m.err
	}
	now := time.Now().UnixNano()
	m.mu.Lock()
	for _, it := range items {
		m.setLocked(it.Key, it.Value, it.TTL, now, true) // present: leave it
	}
	m.mu.Unlock()
	m.maybeSweep(now)
	return nil
}

// Delete implements [Store].
func (m *MemoryStore) Delete(ctx context.Context, keys []string) error {
	if m.err != nil {
		return m.err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if v, ok := m.c.Get(k); ok {
			m.removeLocked(v.(*memItem))
		}
	}
	return nil
}

// setLocked stores value at key (only if no live item is there, with
// absentOnly) and evicts until the store is within its budget again. It
// reports whether it stored the value.
func (m *MemoryStore) setLocked(key string, value []byte, ttl time.Duration, now int64, absentOnly bool) bool {
	var old *memItem
	if v, ok := m.c.Get(key); ok {
		old = v.(*memItem)
		if old.expired(now) {
			m.removeLocked(old)
			m.expirations++
			old = nil
		} else if absentOnly {
			return false
		}
	}
	it := newMemItem(key, value)
	if ttl > 0 {
		it.expires = math.MaxInt64 // a TTL too long to add to now never ends
		if int64(ttl) < math.MaxInt64-now {
			it.expires = now + int64(ttl)
		}
	}
	if it.size > m.max {
		if old != nil { // an overwrite must not leave the old value readable
			m.removeLocked(old)
		}
		m.tooLarge++
		return false
	}
	m.p.insert(it, old)
	m.c.Set(key, it, gocache.NoExpiration)
	m.recordChanged(old)
	for m.p.bytes() > m.max {
		victim, expired := m.p.evict(it, now)
		if victim == nil {
			// it alone fits: the ghost's memory is all there is to give.
			m.p.ghost.clear()
			break
		}
		m.c.Delete(victim.key)
		m.recordChanged(victim)
		if expired {
			m.expirations++
		} else {
			m.evictions++
		}
	}
	return true
}

func (m *MemoryStore) removeLocked(it *memItem) {
	m.p.remove(it)
	m.c.Delete(it.key)
	m.recordChanged(it)
}

// reclaim removes an expired item a read found, unless a write has
// replaced or removed it meanwhile.
func (m *MemoryStore) reclaim(it *memItem) {
	m.mu.Lock()
	if it.queue != memNone {
		m.removeLocked(it)
		m.expirations++
	}
	m.mu.Unlock()
}

// maybeSweep reclaims every expired item once per interval, on the calling
// goroutine, so the store needs no janitor goroutine and cannot leak one.
func (m *MemoryStore) maybeSweep(now int64) {
	last := m.lastSweep.Load()
	if now-last < int64(memorySweepInterval) || !m.lastSweep.CompareAndSwap(last, now) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range []*memQueue{&m.p.small, &m.p.main} {
		for it := q.tail; it != nil; {
			prev := it.prev
			if it.expired(now) {
				m.removeLocked(it)
				m.expirations++
			}
			it = prev
		}
	}
}
