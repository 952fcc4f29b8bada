package tmplcache

import (
	"context"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// MemoryStore is the embedded default [Store]: a map in this process,
// backed by github.com/patrickmn/go-cache. It starts no goroutine: expired
// items are swept by the writes themselves, at most once per sweep
// interval. Its zero value is not usable; call [NewMemoryStore].
type MemoryStore struct {
	c         *gocache.Cache
	lastSweep atomic.Int64 // Unix nanoseconds
	clocks    memoryClocks // see memory_clock.go
}

const memorySweepInterval = time.Minute

var _ interface {
	Store
	EntryGetter
	Local
} = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore {
	m := &MemoryStore{c: gocache.New(gocache.NoExpiration, 0)}
	m.lastSweep.Store(time.Now().UnixNano())
	return m
}

// Local reports true: a MemoryStore is private to this process.
func (m *MemoryStore) Local() bool { return true }

func (m *MemoryStore) get(key string) []byte {
	v, ok := m.c.Get(key)
	if !ok {
		return nil
	}
	return v.([]byte)
}

// Get implements [Store].
func (m *MemoryStore) Get(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = m.get(k)
	}
	return out, nil
}

// GetEntry implements [EntryGetter]: the entry and its tag records in one call.
func (m *MemoryStore) GetEntry(ctx context.Context, key string) ([]byte, [][]byte, error) {
	raw := m.get(key)
	if raw == nil {
		return nil, nil, nil
	}
	var buf [8]dep
	e, err := decodeEntry(raw, buf[:0])
	if err != nil {
		return raw, nil, nil // the cache reports the corruption
	}
	tags := make([][]byte, len(e.deps))
	for i, d := range e.deps {
		tags[i] = m.get(d.key)
	}
	return raw, tags, nil
}

// set stores one item.
func (m *MemoryStore) set(key string, value []byte, ttl time.Duration) {
	m.c.Set(key, value, ttlOrNever(ttl))
}

// Set implements [Store].
func (m *MemoryStore) Set(ctx context.Context, items []Item) error {
	for _, it := range items {
		m.c.Set(it.Key, it.Value, ttlOrNever(it.TTL))
	}
	m.maybeSweep()
	return nil
}

// Add implements [Store].
func (m *MemoryStore) Add(ctx context.Context, items []Item) error {
	for _, it := range items {
		_ = m.c.Add(it.Key, it.Value, ttlOrNever(it.TTL)) // present: leave it
	}
	m.maybeSweep()
	return nil
}

// Delete implements [Store].
func (m *MemoryStore) Delete(ctx context.Context, keys []string) error {
	for _, k := range keys {
		m.c.Delete(k)
	}
	return nil
}

// Len returns the number of items held, expired ones not yet swept included.
func (m *MemoryStore) Len() int { return m.c.ItemCount() }

func ttlOrNever(d time.Duration) time.Duration {
	if d <= 0 {
		return gocache.NoExpiration
	}
	return d
}

// maybeSweep drops expired items once per interval, on the writing
// goroutine, so the store needs no janitor goroutine and cannot leak one.
func (m *MemoryStore) maybeSweep() {
	now := time.Now().UnixNano()
	last := m.lastSweep.Load()
	if now-last < int64(memorySweepInterval) || !m.lastSweep.CompareAndSwap(last, now) {
		return
	}
	m.c.DeleteExpired()
}
