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
	// Mark and Miss are read by the rewritten template as fields, not
	// through function calls: {{$h.Mark}}{{if $h.Miss}}BODY{{end}}. A hit
	// on the fast path prints Mark through the pointer its function returns.
	Mark template.HTML // the block's first marker: Hit, or Begin on a miss
	Miss bool          // the body must run

	id      uint64
	token   [marker.TagLen]byte
	desc    *blockDesc
	build   *tmplcache.Build
	claimed atomic.Bool
	// mark holds the block's marker while it is written: one at a time
	// (Begin is printed before the body runs, End after), so one buffer
	// serves them all and a marker costs no allocation.
	mark [idMarkerLen]byte
	// hit is the build of a hit served by the fast path: such a block and
	// its build are done once the stream has written the hit, and go back
	// to hitBlocks together (see [blockDesc.hit]).
	hit tmplcache.Build
}

// hitBlocks are blocks the fast path reuses: a hit costs no allocation.
var hitBlocks = sync.Pool{New: func() any { return new(block) }}

// release returns a fast-path hit the stream has written to hitBlocks.
// Nothing refers to it any more: its marker was claimed, its build ended,
// and the template's variable holding its Mark was printed already.
func (b *block) release() {
	if b.build != &b.hit {
		return // a block of the open function: its build is Begin's own
	}
	b.desc, b.build = nil, nil
	hitBlocks.Put(b)
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

// blockTable holds the blocks opened and not yet claimed by a stream (a
// block is claimed by the very action that prints its first marker). A
// block whose markers never reach one (its template was executed without
// ExecuteTemplate while another execution made the functions work) would
// stay forever: blocks are kept in two generations of blockGeneration
// blocks opened, and one unclaimed for a whole generation is dropped and
// its build aborted.
type blockTable struct {
	next atomic.Uint64
	mu   sync.Mutex
	cur  map[uint64]*block
	old  map[uint64]*block
}

const blockGeneration = 1 << 16

// add makes a block of d for build and holds it until a stream claims it.
func (t *blockTable) add(d *blockDesc, build *tmplcache.Build) *block {
	b := &block{desc: d, build: build}
	t.hold(b)
	return b
}

// hold gives b a new id and token and holds it until a stream claims it.
func (t *blockTable) hold(b *block) {
	b.claimed.Store(false)
	b.id = t.next.Add(1)
	binary.LittleEndian.PutUint64(b.token[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b.token[8:], rand.Uint64())
	t.mu.Lock()
	var dropped map[uint64]*block
	if t.cur == nil || b.id%blockGeneration == 0 {
		dropped, t.old, t.cur = t.old, t.cur, make(map[uint64]*block)
	}
	t.cur[b.id] = b
	t.mu.Unlock()
	for _, old := range dropped {
		old.build.Abort()
	}
}

// take removes and returns the block a marker names, if its token
// matches: the stream that found the marker has the block now.
func (t *blockTable) take(m marker.Marker) *block {
	if len(m.Payload) != 8 {
		return nil
	}
	id := binary.BigEndian.Uint64(m.Payload)
	t.mu.Lock()
	b, old := t.cur[id], false
	if b == nil {
		b, old = t.old[id], true
	}
	if b == nil || subtle.ConstantTimeCompare(b.token[:], m.Tag[:]) != 1 {
		t.mu.Unlock()
		return nil
	}
	if old {
		delete(t.old, id)
	} else {
		delete(t.cur, id)
	}
	t.mu.Unlock()
	b.claimed.Store(true)
	return b
}

func (t *blockTable) drop(b *block) {
	t.mu.Lock()
	delete(t.cur, b.id)
	delete(t.old, b.id)
	t.mu.Unlock()
}

// ends reports whether m is the End marker of top, the innermost block
// a stream has open.
func ends(m marker.Marker, top *block) bool {
	return top != nil && len(m.Payload) == 8 && binary.BigEndian.Uint64(m.Payload) == top.id &&
		subtle.ConstantTimeCompare(top.token[:], m.Tag[:]) == 1
}
