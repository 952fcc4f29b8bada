package cachetagging

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// A block is one execution of one {{ cache_tagging }} block. The template
// function that opens it cannot see the execution it runs in, so the block
// travels to the execution's stream processor by id, in a marker, and the
// processor claims it from the table.
type block struct {
	id      uint64
	loc     string // "template:line"
	build   *tmplcache.Build
	claimed atomic.Bool
	self    [1]*block // backs the handle, saving an allocation
}

// handle is what the opening function returns to the template. Its length
// is its truth in {{ if }}: one on a miss (render the body), zero on a hit;
// either way the block sits at index 0 of its capacity, so the functions
// that emit its markers get it back.
type handle []*block

func (h handle) block() *block {
	if cap(h) == 0 {
		return nil
	}
	return h[:1][0]
}

type blockTable struct {
	next atomic.Uint64
	mu   sync.Mutex
	m    map[uint64]*block
}

func (t *blockTable) add(b *block) {
	b.id = t.next.Add(1)
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[uint64]*block)
	}
	t.m[b.id] = b
	t.mu.Unlock()
}

// claim removes and returns the block with id, or nil.
func (t *blockTable) claim(payload []byte) *block {
	if len(payload) != 8 {
		return nil
	}
	id := binary.BigEndian.Uint64(payload)
	t.mu.Lock()
	b := t.m[id]
	delete(t.m, id)
	t.mu.Unlock()
	if b != nil {
		b.claimed.Store(true)
	}
	return b
}

func (t *blockTable) drop(b *block) {
	t.mu.Lock()
	delete(t.m, b.id)
	t.mu.Unlock()
}
