package tmplcache

import (
	"context"
	"sync/atomic"
	"unsafe"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// A hit reads an entry and every one of its tag records: on a MemoryStore
// that is one map lookup per tag, most of a hit's store time. Between two
// changes to tag records, though, the records an entry names are the very
// items the last read found. So a MemoryStore counts changes to items
// holding tag records (recGen: a replacement, a removal, an eviction or an
// expiry of one), and each entry keeps the record items its last full read
// found with the count before that read (memRead). A read that finds the
// count unchanged returns those items' values: what a full read would
// return, every version still compared by the Cache, for one lookup
// instead of one per tag.
//
// Why it is exact: a change moves recGen only after the map holds its
// result, and a full read loads recGen before it looks any record up. A
// reader that finds recGen equal to a memRead's therefore saw no change
// completed since that read's lookups began; one that is still in flight
// has not returned to its caller either (an invalidation returns after its
// records are written and counted), which is all DESIGN.md §3.3 asks. An
// entry is memoised only when every record is there and is a record, so a
// key that gains a record, having had none, needs no count.

// memRead is what an entry's last full read found.
type memRead struct {
	gen  uint64     // recGen before the read
	exp  int64      // the earliest expiry among recs, Unix nanoseconds; 0 none
	recs []*memItem // the entry's tag records, in the entry's order
	// current is the entry as a Cache viewed it when it found every one
	// of recs at the version the entry was built against: while recGen
	// stays at gen, that finding stands, and a read need not compare the
	// versions again (see [Cache.loadLocal]).
	current atomic.Pointer[entryView]
}

// memReadSize is what an entry's memRead costs, accounted with the entry
// when it is stored: the struct and its slice. (The record items it holds
// are accounted as items; one it keeps alive after the store dropped it is
// released by the entry's next read, or with the entry.)
func memReadSize(value []byte) int64 {
	n := layout.EntryTagCount(value)
	if n == 0 {
		return 0
	}
	return allocSize(int(unsafe.Sizeof(memRead{}))) + allocSize(n*int(unsafe.Sizeof((*memItem)(nil))))
}

// recordChanged counts a change to an item that holds a tag record. Call
// it after the map holds the change.
func (m *MemoryStore) recordChanged(it *memItem) {
	if it != nil && it.record {
		m.recGen.Add(1)
	}
}

// GetEntry implements [EntryGetter]: the entry and its tag records in one
// call, from the entry's last read when no tag record changed since.
func (m *MemoryStore) GetEntry(ctx context.Context, key string, recs [][]byte) ([]byte, [][]byte, error) {
	var now int64 // one clock reading for the entry and its records
	raw, recs, _, err := m.getEntry(key, recs, &now)
	return raw, recs, err
}

// getEntry is GetEntry with a clock reading (*now, Unix nanoseconds; read
// from the clock if 0) the caller may share. r, if not nil, is the memRead
// of exactly the records returned.
func (m *MemoryStore) getEntry(key string, recs [][]byte, now *int64) (raw []byte, _ [][]byte, r *memRead, err error) {
	if m.err != nil {
		return nil, recs, nil, m.err
	}
	it := m.itemAt(key, now)
	if it == nil {
		return nil, recs, nil, nil
	}
	gen := m.recGen.Load()
	if r := it.read.Load(); r != nil && r.gen == gen && r.live(now) {
		for _, ri := range r.recs {
			ri.touch()
			recs = append(recs, ri.value)
		}
		return it.value, recs, r, nil
	}
	_, tags, _, err := layout.ReadEntry(it.value)
	if err != nil || tags.Len() == 0 {
		return it.value, recs, nil, nil // the cache reports the corruption
	}
	r = &memRead{gen: gen, recs: make([]*memItem, 0, tags.Len())}
	for tags.Next() {
		ri := m.itemAt(tags.Key(), now)
		if ri == nil {
			recs, r = append(recs, nil), nil
			continue
		}
		recs = append(recs, ri.value)
		if r == nil {
			continue
		}
		if !ri.record {
			r = nil
			continue
		}
		r.recs = append(r.recs, ri)
		if ri.expires != 0 && (r.exp == 0 || ri.expires < r.exp) {
			r.exp = ri.expires
		}
	}
	if r != nil {
		it.read.Store(r)
	}
	return it.value, recs, r, nil
}

// live reports whether every record r holds is unexpired at *now (read
// from the clock if 0).
func (r *memRead) live(now *int64) bool {
	if r.exp == 0 {
		return true
	}
	if *now == 0 {
		*now = nowNano()
	}
	return *now < r.exp
}
