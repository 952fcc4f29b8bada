package tmplcache

import (
	"hash/maphash"
	"sync/atomic"
)

// MemoryStore evicts with S3-FIFO (Yang et al., "FIFO queues are all you
// need for cache eviction", SOSP 2023), counted in bytes:
//
//   - A new key enters the small queue, which holds a tenth of the budget.
//     When the small queue is over its share, its oldest item moves on to
//     the main queue if it was read since it arrived; otherwise it leaves
//     the cache and the hash of its key is kept in the ghost queue.
//   - A key found in the ghost queue skips the small queue: it was evicted
//     too early once already.
//   - The main queue is a CLOCK: its oldest item, if read since it was last
//     looked at, is moved back to the head with one read fewer; otherwise
//     it leaves the cache.
//
// Why not LRU: LRU moves an item to the head of a list on every hit, a
// write to shared memory under a lock, and a flood of keys read once (a
// crawler walking query strings) flushes it entirely. Sampled LRU drops the
// lock but not the flood. Here a hit only bumps a two-bit counter in the
// item, and stops writing once it saturates (hot items are read-only),
// while one-hit wonders leave through the small queue without touching
// what the main queue holds. Why not TinyLFU's admission filter: it refuses
// writes, and a Store must keep what it is given (a Cache reads a tag
// record back right after adding it). On a Zipf(1.0) workload S3-FIFO's
// hit ratio is otter's (W-TinyLFU), where LRU and sampled LRU lose four
// points or more: see BenchmarkZipfHitRatio.

// memMaxFreq saturates the read counter: three reads buy three trips
// round the main queue, and hot items stop writing to it.
const memMaxFreq = 3

type memQueueID uint8

const (
	memNone memQueueID = iota // not in the store (removed, replaced or never added)
	memSmall
	memMain
)

// memItem is one stored value. Everything but freq and the fields guarded
// by MemoryStore.mu is fixed when the item is made: a write makes a new
// item rather than changing one that readers may hold.
type memItem struct {
	key     string
	value   []byte
	expires int64 // Unix nanoseconds; 0 means never
	size    int64 // bytes accounted (memItemSize)
	freq    atomic.Uint32
	record  bool                    // the value may be a tag record (it has a record's length)
	read    atomic.Pointer[memRead] // an entry's last full read (memory_reread.go)

	queue      memQueueID // guarded by MemoryStore.mu, as are prev and next
	prev, next *memItem   // prev is towards the head (newer)
}

func (it *memItem) expired(now int64) bool { return it.expires != 0 && now >= it.expires }

// touch records a read. Racing readers may lose an increment: the counter
// ranks items, it does not count reads.
func (it *memItem) touch() {
	if f := it.freq.Load(); f < memMaxFreq {
		it.freq.Store(f + 1)
	}
}

// memQueue is a doubly linked FIFO: items leave from the tail, and Delete
// must unlink one from the middle.
type memQueue struct {
	head, tail *memItem
	n          int
	bytes      int64
}

func (q *memQueue) push(it *memItem, id memQueueID) {
	it.queue, it.prev, it.next = id, nil, q.head
	if q.head != nil {
		q.head.prev = it
	} else {
		q.tail = it
	}
	q.head = it
	q.n++
	q.bytes += it.size
}

func (q *memQueue) unlink(it *memItem) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		q.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		q.tail = it.prev
	}
	it.queue, it.prev, it.next = memNone, nil, nil
	q.n--
	q.bytes -= it.size
}

// memGhost remembers the hashes of keys recently evicted from the small
// queue, oldest first. A hash taken back (the key returned) stays in the
// ring until it reaches the front, so the ring's length is its true size.
type memGhost struct {
	seq   map[uint64]uint64 // hash → sequence number of its newest ring slot
	ring  []uint64
	first uint64 // sequence number of ring[0]
	peak  int    // largest len(seq) since the map was last rebuilt
}

func (g *memGhost) push(h uint64) {
	if g.seq == nil {
		g.seq = make(map[uint64]uint64)
	}
	g.seq[h] = g.first + uint64(len(g.ring))
	g.ring = append(g.ring, h)
	g.peak = max(g.peak, len(g.seq))
}

func (g *memGhost) pop() {
	h := g.ring[0]
	if s, ok := g.seq[h]; ok && s == g.first {
		delete(g.seq, h)
	}
	g.ring = g.ring[1:]
	g.first++
	// Go maps never give memory back: rebuild one that has shrunk a lot,
	// so the ghost's memory follows its accounted size.
	if g.peak > 1024 && len(g.seq) < g.peak/4 {
		// Copied by hand: maps.Clone keeps the old table's size.
		seq := make(map[uint64]uint64, len(g.seq))
		for h, s := range g.seq {
			seq[h] = s
		}
		g.seq, g.peak = seq, len(seq)
	}
}

// take reports whether h is remembered, and forgets it.
func (g *memGhost) take(h uint64) bool {
	if _, ok := g.seq[h]; !ok {
		return false
	}
	delete(g.seq, h)
	return true
}

func (g *memGhost) clear() { *g = memGhost{} }

// memPolicy is the bookkeeping behind a MemoryStore's budget. It is
// guarded by MemoryStore.mu.
type memPolicy struct {
	small, main memQueue
	ghost       memGhost
	seed        maphash.Seed
	smallBytes  int64 // the small queue's share of the budget
}

func newMemPolicy(maxBytes int64) memPolicy {
	return memPolicy{seed: maphash.MakeSeed(), smallBytes: maxBytes / 10}
}

// bytes is what the store accounts for: its items and the ghost's hashes.
func (p *memPolicy) bytes() int64 {
	return p.small.bytes + p.main.bytes + int64(len(p.ghost.ring))*memGhostEntryBytes
}

func (p *memPolicy) items() int { return p.small.n + p.main.n }

func (p *memPolicy) queue(id memQueueID) *memQueue {
	if id == memSmall {
		return &p.small
	}
	return &p.main
}

// insert places a new item. One that replaces old takes its place and
// counts as a read of it: an overwritten key (a tag record being
// invalidated) is in use.
func (p *memPolicy) insert(it, old *memItem) {
	switch {
	case old != nil:
		id := old.queue
		f := old.freq.Load()
		p.remove(old)
		it.freq.Store(min(f+1, memMaxFreq))
		p.queue(id).push(it, id)
	case p.ghost.take(maphash.String(p.seed, it.key)):
		p.main.push(it, memMain)
	default:
		p.small.push(it, memSmall)
	}
}

func (p *memPolicy) remove(it *memItem) {
	if it.queue != memNone {
		p.queue(it.queue).unlink(it)
	}
}

// evict removes one item, never keep (the item whose write is being made
// room for), and returns it; expired reports that it had expired. It
// returns nil when keep is the only item left.
func (p *memPolicy) evict(keep *memItem, now int64) (victim *memItem, expired bool) {
	// Readers can keep raising counters while the main queue turns: after
	// one full turn without a victim, its oldest item goes regardless.
	turns := 0
	for {
		id := memMain
		if p.small.n > 0 && (p.small.bytes > p.smallBytes || p.main.n == 0) {
			id = memSmall
		}
		q := p.queue(id)
		if q.tail == keep && q.n == 1 {
			// keep is alone in its queue: the other one must give.
			id = memSmall + memMain - id
			q = p.queue(id)
			if q.n == 0 {
				return nil, false
			}
		}
		t := q.tail
		switch {
		case t.expired(now):
			q.unlink(t)
			return t, true
		case t == keep:
			q.unlink(t)
			q.push(t, id)
		case id == memSmall && t.freq.Load() > 0:
			q.unlink(t)
			p.main.push(t, memMain)
		case id == memMain && t.freq.Load() > 0 && turns <= q.n:
			turns++
			t.freq.Add(^uint32(0)) // a racing read may be lost: see touch
			q.unlink(t)
			q.push(t, id)
		default:
			q.unlink(t)
			if id == memSmall {
				p.ghost.push(maphash.String(p.seed, t.key))
				p.trimGhost()
			}
			return t, false
		}
	}
}

// trimGhost keeps the ghost no longer than the store holds items: the
// paper's choice, and it bounds the ghost's memory by the budget.
func (p *memPolicy) trimGhost() {
	for len(p.ghost.ring) > p.items() {
		p.ghost.pop()
	}
}
