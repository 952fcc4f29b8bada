package cachetagging

import (
	"crypto/subtle"
	"encoding/binary"
	"html/template"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// A block is one execution of one {{ cache_tagging }} block. The template
// function that opens it cannot see the execution it runs in, so the block
// travels to the execution's stream processor in markers (Begin, Hit, End)
// that carry its id and a random token in place of a tag: the processor
// claims the block from the table by id, and the token proves the marker
// came from the function (no HMAC on the hit path). A forged header cannot
// borrow a genuine marker's token: these markers' payload is exactly the
// 8-byte id, so the token's position is fixed.
type block struct {
	id      uint64
	token   [marker.TagLen]byte
	desc    *blockDesc
	build   *tmplcache.Build
	claimed atomic.Bool
	self    [1]*block // backs the handle, saving an allocation
	// mark holds the block's marker while it is written: one at a time
	// (Begin is printed before the body runs, End after), so one buffer
	// serves them all and a marker costs no allocation.
	mark [idMarkerLen]byte
}

// idMarkerLen is the length of a block marker: header, id, token.
const idMarkerLen = marker.HeaderLen + 8 + marker.TagLen

// marker returns the block's marker of kind k. The string aliases b.mark:
// html/template copies it out before the block writes its next marker.
func (b *block) marker(k marker.Kind) template.HTML {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], b.id)
	m := marker.Append(b.mark[:0], k, id[:], b.token)
	return template.HTML(unsafe.String(&m[0], len(m)))
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

// blockTable holds the blocks opened and not yet claimed by a stream. A
// block whose markers never reach one (its template was executed without
// ExecuteTemplate while another execution made the functions work) would
// stay forever: blocks are kept in two generations, and a block unclaimed
// for a whole generation (a minute at least) is dropped and its build
// aborted.
type blockTable struct {
	next atomic.Uint64
	mu   sync.Mutex
	cur  map[uint64]*block
	old  map[uint64]*block
	turn int64 // when cur began, Unix nanoseconds
}

const blockGeneration = int64(60e9)

func (t *blockTable) add(b *block, now int64) {
	b.id = t.next.Add(1)
	b.token = [marker.TagLen]byte{}
	binary.LittleEndian.PutUint64(b.token[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b.token[8:], rand.Uint64())
	t.mu.Lock()
	var dropped map[uint64]*block
	if t.cur == nil || now-t.turn > blockGeneration {
		dropped, t.old, t.cur, t.turn = t.old, t.cur, make(map[uint64]*block), now
	}
	t.cur[b.id] = b
	t.mu.Unlock()
	for _, d := range dropped {
		d.build.Abort()
	}
}

// find returns the block a marker names, if its token matches.
func (t *blockTable) find(m marker.Marker) *block {
	if len(m.Payload) != 8 {
		return nil
	}
	id := binary.BigEndian.Uint64(m.Payload)
	t.mu.Lock()
	b := t.cur[id]
	if b == nil {
		b = t.old[id]
	}
	t.mu.Unlock()
	if b == nil || subtle.ConstantTimeCompare(b.token[:], m.Tag[:]) != 1 {
		return nil
	}
	return b
}

// claim removes b from the table: its stream has it now.
func (t *blockTable) claim(b *block) {
	t.drop(b)
	b.claimed.Store(true)
}

func (t *blockTable) drop(b *block) {
	t.mu.Lock()
	delete(t.cur, b.id)
	delete(t.old, b.id)
	t.mu.Unlock()
}

// authenticBlockMarker reports whether m is the marker of an open block:
// one still in the table (Begin, Hit), or top is (End).
func (t *blockTable) authentic(m marker.Marker, top *block) bool {
	if m.Kind == marker.End {
		return top != nil && len(m.Payload) == 8 && binary.BigEndian.Uint64(m.Payload) == top.id &&
			subtle.ConstantTimeCompare(top.token[:], m.Tag[:]) == 1
	}
	return t.find(m) != nil
}
